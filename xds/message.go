package xds

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// SOAP actions of the transactions served.
const (
	ActionProvide        = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
	ActionRetrieve       = "urn:ihe:iti:2007:RetrieveDocumentSet"
	ActionQuery          = "urn:ihe:iti:2007:RegistryStoredQuery"
	ActionUpdate         = "urn:ihe:iti:2010:UpdateDocumentSet"
	responseActionSuffix = "Response"
)

// bodyElement is the element each action's body must be.
var bodyElement = map[string][2]string{
	ActionProvide:  {nsXDS, "ProvideAndRegisterDocumentSetRequest"},
	ActionRetrieve: {nsXDS, "RetrieveDocumentSetRequest"},
	ActionQuery:    {nsQuery, "AdhocQueryRequest"},
	ActionUpdate:   {nsLCM, "SubmitObjectsRequest"},
}

var errTooLarge = errors.New("too large")

// Message is a SOAP 1.2 request read: its action, message id, body element
// and the MIME attachments it references (MTOM/XOP), by Content-ID.
type Message struct {
	Action    string
	MessageID string
	Body      *node // the one child of env:Body
	parts     map[string][]byte
	used      map[string]bool
	// HasSecurity: a WS-Security header was present.
	HasSecurity bool
	// Envelope is the SOAP envelope as received (the root MIME part), for
	// the XUA assertion's signature.
	Envelope []byte
	// Patient is the patient the verified XUA assertion names
	// (resource-id), zero without: the transaction must concern them.
	Patient carnet.Identifier
}

// ReadMessage reads a request body of media type contentType: a SOAP 1.2
// envelope (application/soap+xml), or an MTOM/XOP package
// (multipart/related) whose root part is the envelope. The action is the
// envelope's wsa:Action, else the media type's action parameter; it must
// agree with the body's element. Errors are *Fault.
func ReadMessage(body []byte, contentType string, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	if int64(len(body)) > lim.MaxBytes {
		return nil, senderFault("the message exceeds %d bytes", lim.MaxBytes)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, senderFault("unreadable Content-Type")
	}
	m := &Message{parts: map[string][]byte{}, used: map[string]bool{}}
	envelope := body
	action := params["action"]
	switch mt {
	case "application/soap+xml":
	case "multipart/related":
		envelope, action, err = m.readParts(body, params, lim)
		if err != nil {
			return nil, err
		}
	case "text/xml":
		return nil, senderFault("SOAP 1.1 (text/xml) is not served: XDS.b speaks SOAP 1.2 (application/soap+xml)")
	default:
		return nil, senderFault("media type %s is not a SOAP 1.2 message", mt)
	}
	m.Envelope = envelope
	root, err := parseXML(envelope, lim)
	if err != nil {
		return nil, senderFault("the envelope cannot be read: %v", err)
	}
	if !root.is(nsSOAP, "Envelope") {
		return nil, senderFault("the root element is not a SOAP 1.2 Envelope")
	}
	if h := root.child(nsSOAP, "Header"); h != nil {
		for _, c := range h.Children {
			switch {
			case c.is(nsWSA, "Action"):
				action = strings.TrimSpace(c.Text)
			case c.is(nsWSA, "MessageID"):
				m.MessageID = strings.TrimSpace(c.Text)
			case c.Local == "Security":
				m.HasSecurity = true
			}
		}
	}
	b := root.child(nsSOAP, "Body")
	if b == nil || len(b.Children) != 1 {
		return nil, senderFault("the SOAP Body must hold exactly one element")
	}
	m.Body = b.Children[0]
	m.Action = strings.Trim(action, `"`)
	want, ok := bodyElement[m.Action]
	switch {
	case m.Action == "":
		return nil, senderFault("no wsa:Action")
	case !ok:
		return nil, &Fault{Code: "Sender", Subcode: "wsa:ActionNotSupported", Reason: "action " + m.Action + " is not served here"}
	case !m.Body.is(want[0], want[1]):
		return nil, senderFault("action %s expects a %s body, not %s", m.Action, want[1], m.Body.Local)
	}
	return m, nil
}

// readParts reads an MTOM/XOP package: bounded number of parts, the root
// (start parameter, else the first part) of type application/xop+xml.
func (m *Message) readParts(body []byte, params map[string]string, lim Limits) ([]byte, string, error) {
	boundary := params["boundary"]
	if boundary == "" {
		return nil, "", senderFault("multipart/related without boundary")
	}
	start := strings.Trim(params["start"], "<>")
	action := params["action"]
	if _, ps, err := mime.ParseMediaType(params["start-info"]); err == nil && ps["action"] != "" && action == "" {
		action = ps["action"]
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var root []byte
	var rootFound bool
	n := 0
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", senderFault("the MIME package cannot be read")
		}
		n++
		if n > lim.MaxParts {
			return nil, "", senderFault("more than %d MIME parts", lim.MaxParts)
		}
		b, err := readPart(p)
		if err != nil {
			return nil, "", senderFault("MIME part %d cannot be read: %v", n, err)
		}
		id := strings.Trim(strings.TrimSpace(p.Header.Get("Content-ID")), "<>")
		isRoot := (start != "" && id == start) || (start == "" && n == 1)
		if isRoot {
			ct, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if ct != "application/xop+xml" {
				return nil, "", senderFault("the root MIME part is %q, not application/xop+xml", ct)
			}
			if a := ps["action"]; a != "" {
				action = a
			}
			root, rootFound = b, true
			continue
		}
		if id == "" {
			return nil, "", senderFault("MIME part %d has no Content-ID", n)
		}
		if _, dup := m.parts[id]; dup {
			return nil, "", senderFault("two MIME parts have Content-ID %s", id)
		}
		m.parts[id] = b
	}
	if !rootFound {
		return nil, "", senderFault("no root part (start %q) in the MIME package", start)
	}
	return root, action, nil
}

// readPart reads one part's bytes, decoding a base64 or quoted-printable
// transfer encoding (binary and 8bit are read as they are).
func readPart(p *multipart.Part) ([]byte, error) {
	b, err := io.ReadAll(p)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "", "binary", "8bit", "7bit":
		return b, nil
	case "base64":
		return base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(b), nil)))
	}
	return nil, errors.New("unsupported Content-Transfer-Encoding")
}

// content returns the bytes of an element holding a document: an
// xop:Include of an attachment, or base64 text.
func (m *Message) content(n *node) ([]byte, error) {
	if inc := n.child(nsXOP, "Include"); inc != nil {
		href := inc.attr("href")
		id, ok := strings.CutPrefix(href, "cid:")
		if !ok {
			return nil, fmt.Errorf("xop:Include href %q is not a cid: reference", href)
		}
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
		b, ok := m.parts[id]
		if !ok {
			return nil, fmt.Errorf("xop:Include names MIME part %s, which the package does not hold", id)
		}
		if m.used[id] {
			return nil, fmt.Errorf("MIME part %s is included twice", id)
		}
		m.used[id] = true
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields([]byte(n.Text)), nil)))
	if err != nil {
		return nil, errors.New("the document is neither an xop:Include nor valid base64")
	}
	return b, nil
}

// unusedParts returns the attachments no element included.
func (m *Message) unusedParts() []string {
	var out []string
	for id := range m.parts {
		if !m.used[id] {
			out = append(out, id)
		}
	}
	return out
}

// Fault is a SOAP 1.2 fault: the message was not the SOAP it claims.
type Fault struct {
	Code    string // Sender or Receiver
	Subcode string // e.g. wsse:FailedAuthentication
	Reason  string
}

func (f *Fault) Error() string { return "SOAP fault: " + f.Reason }

func senderFault(format string, args ...any) *Fault {
	return &Fault{Code: "Sender", Reason: fmt.Sprintf(format, args...)}
}

// mimeHeader builds a part header.
func mimeHeader(kv ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
