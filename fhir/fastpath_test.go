package fhir

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sameAsJSON checks that the fast path, when it answers, answers what
// encoding/json does.
func sameAsJSON(t *testing.T, data []byte) (bundleFast, binaryFast bool) {
	t.Helper()
	if b, ok := fastBundle(data); ok {
		var want Bundle
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path decoded a Bundle that encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(b, want) {
			t.Fatalf("Bundle %q:\n got %+v\nwant %+v", data, b, want)
		}
		bundleFast = true
	}
	if b, ok := fastBinary(data); ok {
		var want Binary
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path decoded a Binary that encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(b, want) {
			t.Fatalf("Binary %q:\n got %+v\nwant %+v", data, b, want)
		}
		binaryFast = true
	}
	if dr, ok := fastDocumentReference(data); ok {
		var want DocumentReference
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path decoded a DocumentReference that encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(dr, want) {
			t.Fatalf("DocumentReference %q:\n got %+v\nwant %+v", data, dr, want)
		}
	}
	if r, ok := fastResource(data); ok {
		var want Resource
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path decoded a Resource that encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("Resource %q:\n got %+v\nwant %+v", data, r, want)
		}
	}
	return bundleFast, binaryFast
}

func TestDocumentReferenceFastPath(t *testing.T) {
	long := strings.Repeat("QUJD", 300)
	for _, c := range []struct {
		name, body string
		fast       bool
	}{
		{"ITI-105", `{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"contentType":"text/xml","data":"` + long + `"},"format":{"code":"x"}}],"subject":{"reference":"Patient/1"}}`, true},
		{"two contents, one without data", `{"resourceType":"DocumentReference","content":[{"attachment":{"url":"x"}},{"attachment":{"data":"QUJD"}}]}`, true},
		{"data escaped", `{"resourceType":"DocumentReference","content":[{"attachment":{"data":"QU\u004aD"}}]}`, false},
		{"data not base64", `{"resourceType":"DocumentReference","content":[{"attachment":{"data":"!!!!"}}]}`, false},
		{"data twice", `{"resourceType":"DocumentReference","content":[{"attachment":{"data":"QUJD","data":"QUJE"}}]}`, false},
		{"Data", `{"resourceType":"DocumentReference","content":[{"attachment":{"Data":"QUJD"}}]}`, false},
		{"data a number", `{"resourceType":"DocumentReference","content":[{"attachment":{"data":12}}]}`, false},
		{"content not an array", `{"resourceType":"DocumentReference","content":{"attachment":{"data":"QUJD"}}}`, false},
		{"type error elsewhere", `{"resourceType":"DocumentReference","status":1,"content":[{"attachment":{"data":"QUJD"}}]}`, false},
		{"no data", `{"resourceType":"DocumentReference","content":[{"attachment":{"url":"x"}}]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, got := fastDocumentReference([]byte(c.body))
			if got != c.fast {
				t.Errorf("shortcut taken: %v, want %v", got, c.fast)
			}
			sameAsJSON(t, []byte(c.body))
			var dr, want DocumentReference
			err := Unmarshal([]byte(c.body), &dr, "DocumentReference")
			if refusedNames[c.name] { // refused: two readers would read it differently
				if err == nil {
					t.Fatalf("a name given twice was accepted: %+v", dr)
				}
				return
			}
			wantErr := json.Unmarshal([]byte(c.body), &want)
			if (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(dr, want) {
				t.Errorf("Unmarshal: %v %+v, encoding/json: %v %+v", err, dr, wantErr, want)
			}
			var r, wantR Resource
			err = Unmarshal([]byte(c.body), &r, "DocumentReference")
			wantErr = json.Unmarshal([]byte(c.body), &wantR)
			if (err == nil) != (wantErr == nil) || err == nil && r != wantR {
				t.Errorf("Unmarshal Resource: %v %+v, encoding/json: %v %+v", err, r, wantErr, wantR)
			}
		})
	}
}

func TestFastPathMatchesEncodingJSON(t *testing.T) {
	long := strings.Repeat("QUJD", 300)
	for _, c := range []struct {
		name             string
		body             string
		bundle, binaryOK bool // whether the shortcut is expected to be taken
	}{
		{"transaction", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Binary","data":"` + long + `"},"request":{"method":"POST","url":"Binary"}},{"fullUrl":"urn:uuid:2"}]}`, true, false},
		{"spaces everywhere", " {\n \"entry\" : [ { \"resource\" : { \"a\" : [ 1 , -2.5e+3 , true , null ] } } , { \"resource\" : \"x\\\"]}\" } ] , \"type\" : \"batch\" } ", true, false},
		{"resource null", `{"entry":[{"resource":null},{}]}`, true, false},
		{"resource of another case", `{"entry":[{"Resource":{"a":1}}]}`, false, false},
		{"resource twice", `{"entry":[{"resource":{"a":1},"resource":{"b":2}}]}`, false, false},
		{"escaped key", `{"entry":[{"r\u0065source":{"a":1}}]}`, false, false},
		{"long s key", `{"entry":[{"reſource":{"a":1}}]}`, false, false},
		{"entry of another case", `{"ENTRY":[{"resource":{"a":1}}]}`, false, false},
		{"entry not an array", `{"entry":{"resource":{}}}`, false, false},
		{"entry element not an object", `{"entry":[1]}`, false, false},
		{"type error elsewhere", `{"type":3,"entry":[{"resource":{}}]}`, false, false},
		{"invalid inside a resource", `{"entry":[{"resource":{"a":01}}]}`, false, false},
		{"control character in a resource", "{\"entry\":[{\"resource\":{\"a\":\"\x01\"}}]}", false, false},
		{"binary", `{"resourceType":"Binary","contentType":"text/plain","data":"` + long + `"}`, false, true},
		{"binary with wrapped base64", `{"resourceType":"Binary","data":"QUJD\nQUJD"}`, false, false},
		{"binary with spaces in base64", `{"resourceType":"Binary","data":"QUJD QUJD"}`, false, true},
		{"binary not base64", `{"resourceType":"Binary","data":"!!!!"}`, false, false},
		{"binary data twice", `{"resourceType":"Binary","data":"QUJD","data":"QUJE"}`, false, false},
		{"binary Data", `{"resourceType":"Binary","Data":"QUJD"}`, false, false},
		{"binary escaped kelvin key", `{"resourceType":"Binary","\u212a":1,"data":"QUJD"}`, false, false},
		{"binary raw kelvin key", "{\"resourceType\":\"Binary\",\"\u212a\":1,\"data\":\"QUJD\"}", false, false},
		{"binary data escaped", `{"resourceType":"Binary","data":"QU\u004aD"}`, false, false},
		{"binary data null", `{"resourceType":"Binary","data":null}`, false, false},
		{"trailing garbage", `{"resourceType":"Binary","data":"QUJD"} x`, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			gotBundle, gotBinary := sameAsJSON(t, []byte(c.body))
			if gotBundle != c.bundle || gotBinary != c.binaryOK {
				t.Errorf("shortcut taken: Bundle %v Binary %v, want %v %v", gotBundle, gotBinary, c.bundle, c.binaryOK)
			}
			// Whatever the path, Unmarshal answers as before.
			var b, want Bundle
			err := Unmarshal([]byte(c.body), &b, "Bundle")
			if refusedNames[c.name] { // refused: two readers would read it differently
				if err == nil {
					t.Fatalf("a name given twice was accepted: %+v", b)
				}
				return
			}
			wantErr := json.Unmarshal([]byte(c.body), &want)
			if (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(b, want) {
				t.Errorf("Unmarshal: %v %+v, encoding/json: %v %+v", err, b, wantErr, want)
			}
		})
	}
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `.5`, `"`, `"\`, `"\u12"`, `"\u12G4"`, `"\uABcd"`,
		`"\x"`, `"\/"`, "\"\x1f\"", "\"\x7f\xff\"", `"12345678\"12345678"`, `[`, `[]`, `[,]`, `[1,]`, `[1 2]`, `{}`, `{"a"}`,
		`{"a":}`, `{"a":1,}`, `{"a" : 1 , "b":[{}]}`, `{1:2}`, `tru`, `true`, `nul`, `null `, `falsey`, "\t[\r\n]\n",
		`"` + strings.Repeat("abcdefgh", 5) + `\"` + `"`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.40q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzFastPath(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Binary","data":"aGk="}}]}`))
	f.Add([]byte(`{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8gd29ybGQ="}`))
	f.Add([]byte(`{"entry":[{"resource":"a\"b\\"},{"resource":[1,{"x":null}]}]}`))
	f.Add([]byte(`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"contentType":"text/xml","data":"aGk="}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, want %v", data, got, want)
		}
		sameAsJSON(t, data)
	})
}

// refusedNames are the cases above whose body Unmarshal refuses, as two
// readers would read it differently (checkBody): a name given twice, or a
// known element's name in other letters' case.
var refusedNames = map[string]bool{
	"data twice": true, "Data": true, "resource twice": true, "resource of another case": true, "long s key": true,
	"entry of another case": true, "binary data twice": true,
}
