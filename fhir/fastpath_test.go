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
	return bundleFast, binaryFast
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
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, want %v", data, got, want)
		}
		sameAsJSON(t, data)
	})
}
