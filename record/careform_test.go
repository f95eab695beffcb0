package record

import (
	"reflect"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// fillRow sets every field of a DocumentRow (Sealed excepted: a form keeps
// no sealed part) to a value of its own, by reflection, so that a field
// added to DocumentRow and forgotten by the form's encoding fails the
// round trip below.
func fillRow(t *testing.T, i int) carnet.DocumentRow {
	t.Helper()
	var row carnet.DocumentRow
	v := reflect.ValueOf(&row).Elem()
	for f := 0; f < v.NumField(); f++ {
		name := v.Type().Field(f).Name
		fv := v.Field(f)
		switch {
		case name == "Sealed" || name == "Patient":
			// not kept: no sealed part; the record is the form's key
		case fv.Kind() == reflect.String:
			fv.SetString(name + "-" + string(rune('a'+i)))
		case fv.Kind() == reflect.Int:
			fv.SetInt(int64(3 + i))
		case fv.Kind() == reflect.Bool:
			fv.SetBool(true)
		case fv.Type() == reflect.TypeOf(time.Time{}):
			fv.Set(reflect.ValueOf(time.Date(2020+i, 3, 4, 5, 6, 7, 891011+f, time.UTC)))
		case fv.Type() == reflect.TypeOf([]carnet.Token(nil)):
			fv.Set(reflect.ValueOf([]carnet.Token{{Kind: "label", Value: "N"}, {Kind: "type", Value: "http://loinc.org|11488-4"}, {Kind: "author", Value: name}}))
		default:
			t.Fatalf("DocumentRow.%s (%s): the form's test does not know this field; encode it in the form and fill it here", name, fv.Type())
		}
	}
	return row
}

func TestCareFormRoundTrip(t *testing.T) {
	e := &careEntry{stamp: "2003/1765100000000000",
		docs:              []carnet.DocumentRow{fillRow(t, 0), fillRow(t, 1), {ID: "bare", Status: carnet.StatusArchived}},
		concepts:          [][]string{{"anticoagulant", "valve"}, nil, {"diabetes"}},
		titleKeys:         []string{"cr-op", "", "bio"},
		titleWords:        [][]string{{"ecg"}, nil, {"echocardiograph", "holter"}},
		authorSpecialties: [][]string{nil, {"G15_10/SM04", "G15_10/SM42"}, {"G15_10/SM73"}},
		findings: []careFinding{{source: "Logical-b", CareFinding: carnet.CareFinding{ItemID: "it1",
			Code: carnet.Coding{System: "http://loinc.org", Code: "6301-6", Display: "INR"}, Interpretation: "H"}}},
		filed: map[string]time.Time{"LogicalID-a": time.Date(2019, 1, 2, 3, 4, 5, 6, time.UTC)},
	}
	e.docs[1].Date = time.Time{} // a zero time stays zero
	got, err := decodeCareForm(encodeCareForm(e))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
	// No filing dates (a record of first versions only) stays nil.
	e.filed = nil
	if got, err := decodeCareForm(encodeCareForm(e)); err != nil || got.filed != nil {
		t.Errorf("without filing dates: %v, %v", got.filed, err)
	}
	// Every truncation and every changed byte is refused or decodes, never panics.
	b := encodeCareForm(e)
	for n := range b {
		if _, err := decodeCareForm(b[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: decoded", n, len(b))
		}
	}
	if _, err := decodeCareForm(append(b, 0)); err == nil {
		t.Error("a trailing byte: decoded")
	}
	if _, err := decodeCareForm(append([]byte{careFormVersion + 1}, b[1:]...)); err == nil {
		t.Error("another version: decoded")
	}
}

func FuzzDecodeCareForm(f *testing.F) {
	e := &careEntry{stamp: "1/2", docs: []carnet.DocumentRow{{ID: "a", Tokens: []carnet.Token{{Kind: "k", Value: "v"}}, Date: time.Unix(5, 6).UTC()}},
		concepts: [][]string{{"c"}}, titleKeys: []string{"t"}, titleWords: [][]string{{"w"}}, authorSpecialties: [][]string{{"G15_10/SM04"}}, filed: map[string]time.Time{"a": time.Unix(1, 0).UTC()},
		findings: []careFinding{{source: "a", CareFinding: carnet.CareFinding{ItemID: "i"}}}}
	f.Add(encodeCareForm(e))
	f.Add([]byte{careFormVersion})
	f.Add([]byte{careFormVersion, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeCareForm(b)
		if err != nil {
			return
		}
		// What decodes encodes to a form that decodes the same.
		again, err := decodeCareForm(encodeCareForm(e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("re-encoding a decoded form: %v", err)
		}
	})
}
