package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhirxml"
)

// FHIR XML (docs/FHIRXML.md), in one place: the handlers speak JSON only;
// an XML body is converted to JSON before its handler reads it (xmlBody,
// called by wrap once the caller is authenticated), and a FHIR JSON answer
// is converted to XML when the client asked for XML (ServeHTTP wraps the
// response in an xmlWriter).

const mediaFHIRXML = "application/fhir+xml"

// isXMLMedia reports whether a media type (no parameters) is FHIR XML as
// clients send it.
func isXMLMedia(ct string) bool {
	return ct == mediaFHIRXML || ct == "application/xml" || ct == "text/xml"
}

// bodyIsXML reports whether the request carries an XML body.
func bodyIsXML(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return isXMLMedia(ct)
}

// wantsXML reports whether the answer is to be FHIR XML: _format first
// (xml, text/xml, application/xml, application/fhir+xml), then Accept by
// quality (FHIR XML against JSON; */* counts for JSON, Carnet's default),
// and when neither says, the format of the body the client sent.
func wantsXML(r *http.Request) bool {
	if f := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("_format"))); f != "" {
		mt, _, _ := mime.ParseMediaType(f)
		return f == "xml" || isXMLMedia(mt)
	}
	qXML, qJSON := -1.0, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		switch {
		case isXMLMedia(mt):
			qXML = max(qXML, q)
		case mt == "application/fhir+json" || mt == "application/json" || mt == "*/*" || mt == "application/*":
			qJSON = max(qJSON, q)
		}
	}
	if qXML > 0 && qXML > qJSON {
		return true
	}
	if qXML < 0 && qJSON < 0 || qJSON == qXML {
		return bodyIsXML(r)
	}
	return false
}

// xmlBody replaces an XML request body by its JSON, with the same bound
// (the body is read through wrap's MaxBytesReader) and the errors of a JSON
// body: 413 past the bound, 400 with an OperationOutcome naming the element
// at fault.
func (s *Server) xmlBody(r *http.Request) error {
	if r.Body == nil || !bodyIsXML(r) {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(carnet.KindTooLarge, "too-costly", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBody))
		}
		return carnet.WrapError(carnet.KindInvalid, "read body", err)
	}
	j, err := fhirxml.ToJSON(b)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(j))
	r.ContentLength = int64(len(j))
	r.Header.Set("Content-Type", "application/fhir+json")
	return nil
}

// xmlWriter holds back a FHIR JSON answer and writes it as XML in finish;
// any other answer (a document's own bytes, a log proof) passes through.
type xmlWriter struct {
	http.ResponseWriter
	s       *Server
	status  int
	started bool
	convert bool
	buf     bytes.Buffer
}

func (x *xmlWriter) WriteHeader(code int) {
	if x.started {
		return
	}
	x.started, x.status = true, code
	ct, _, _ := mime.ParseMediaType(x.Header().Get("Content-Type"))
	x.convert = ct == "application/fhir+json"
	if !x.convert {
		x.ResponseWriter.WriteHeader(code)
	}
}

func (x *xmlWriter) Write(p []byte) (int, error) {
	if !x.started {
		x.WriteHeader(http.StatusOK)
	}
	if x.convert {
		return x.buf.Write(p)
	}
	return x.ResponseWriter.Write(p)
}

func (x *xmlWriter) finish(r *http.Request) {
	if !x.convert {
		return
	}
	out, err := fhirxml.ToXML(x.buf.Bytes())
	h := x.Header()
	h.Del("Content-Length")
	if err != nil {
		// Carnet's own JSON that the R4 definitions do not know: a bug.
		rid, _ := r.Context().Value(requestIDKey).(string)
		x.s.log.Error("FHIR JSON answer not convertible to XML", "request_id", rid, "err", err)
		out = []byte(`<?xml version="1.0" encoding="UTF-8"?><OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/><code value="exception"/><diagnostics value="internal error"/></issue></OperationOutcome>`)
		x.status = http.StatusInternalServerError
	}
	h.Set("Content-Type", mediaFHIRXML+"; charset=utf-8")
	x.ResponseWriter.WriteHeader(x.status)
	_, _ = x.ResponseWriter.Write(out)
}
