package cda

import (
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// TestCorpusHeaders checks header fields of a subset of the ANS examples
// against values read by hand from the files.
func TestCorpusHeaders(t *testing.T) {
	const (
		testNIR = "urn:oid:" + carnet.OIDInsTestNIR
		nir     = "urn:oid:" + carnet.OIDInsNIR
		rpps    = "urn:oid:" + carnet.OIDRPPS
	)
	tests := []struct {
		file       string
		ins        carnet.Identifier
		typ        string
		rpps       []string // each author's RPPS extension
		specialty  string   // first author's J01 code
		format     string
		level      Level
		created    time.Time
		setID      string
		version    int
		replaces   string
		attachment string // media type of the attachment, if any
	}{
		{
			file: "BIO-CR-BIO_2024.01_TSH_1.xml", ins: carnet.Identifier{System: testNIR, Value: "279035121518989"},
			typ: "11502-2", rpps: []string{"801234534765"}, specialty: "G15_10/SM03",
			format: "urn:ihe:lab:xd-lab:2008", level: LevelN3,
			created: time.Date(2021, 4, 1, 16, 10, 0, 0, time.UTC), // 20210401171000+0100
			setID:   "1.2.250.1.213.1.1.1.55.2024.9", version: 1, attachment: "application/pdf",
		},
		{
			file: "CSE-CS24_2024.01.xml", ins: carnet.Identifier{System: nir, Value: "221042545611404"},
			typ: "CERT_DECL", rpps: []string{"801234567897"}, specialty: "G15_10/SM40",
			format: "urn:asip:ci-sis:cse-cs24:2017", level: LevelN3, created: time.Date(2021, 8, 3, 10, 36, 23, 0, time.UTC),
			setID: "1.2.250.1.213.1.1.1.5.3.2024.1", version: 1,
		},
		{
			file: "eDISP-MED_2024.01.xml", ins: carnet.Identifier{System: nir, Value: "277076322082910"},
			typ: "60593-1", rpps: []string{"578435954900010/1.2.250.1.176.1", "807505123456"},
			format: "urn:ihe:pharm:dis:2010", level: LevelN3, created: time.Date(2024, 12, 25, 8, 30, 0, 0, time.UTC),
			setID: "1.2.250.1.213.1.1.1.54.2024.1", version: 1,
		},
		{
			file: "DOC_NON_STRUCTURE_CDA-R2-N1.xml", ins: carnet.Identifier{System: testNIR, Value: "279035121518989"},
			typ: "11502-2", rpps: []string{"801234534765"}, specialty: "G15_10/SM03",
			format: "urn:ihe:iti:xds-sd:pdf:2008", level: LevelN1,
			created: time.Date(2021, 4, 1, 12, 47, 45, 0, time.UTC),
			setID:   "1.3.6.1.4.1.19376.1.2.20.12345.1", version: 1, attachment: "application/pdf",
		},
		{
			file: "IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml", ins: carnet.Identifier{System: testNIR, Value: "279035121518989"},
			typ: "18748-4", rpps: []string{"801234560801"}, specialty: "G15_10/SM44",
			format: "urn:ihe:iti:xds-sd:pdf:2008", level: LevelN1,
			created: time.Date(2021, 1, 8, 10, 17, 0, 0, time.UTC),
			setID:   "1.2.250.1.213.1.1.1.45.2024.2", version: 2,
			replaces: "90E1C8EC-F951-4B26-A305-A34848818DD6", attachment: "application/pdf",
		},
		{
			file: "IPS-FR_2024.01.xml", ins: carnet.Identifier{System: testNIR, Value: "279035121518989"},
			typ: "60591-5", rpps: []string{"801234567897"}, specialty: "G15_10/SM26",
			format: "urn:ihe:pcc:ips:2020", level: LevelN3,
			created: time.Date(2024, 4, 2, 10, 17, 0, 0, time.UTC),
			setID:   "1.2.250.1.213.1.1.1.51.2024.1", version: 2,
			replaces: "8D5E778C-E155-4685-95C6-5FF65A362964", attachment: "application/pdf",
		},
		{
			file: "LDL-SES_2022.01.xml", ins: carnet.Identifier{System: testNIR, Value: "279035121518989"},
			typ: "11490-0", rpps: []string{"801234567897"}, specialty: "G15_10/SM27",
			format: "urn:asip:ci-sis:ldl-ses:2017", level: LevelN3,
			created: time.Date(2019, 12, 3, 12, 30, 0, 0, time.UTC),
			setID:   "1.2.250.1.213.1.1.1.29.2022.1", version: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := parseCorpus(t, tt.file)
			m := d.Metadata()
			if ins, ok := d.PatientINS(); !ok || ins != tt.ins {
				t.Errorf("INS = %v, %v; want %v", ins, ok, tt.ins)
			}
			// sourcePatientId is the producer's own id (IPP) where the
			// header has one, else the INS (the ANS header-to-XDS mapping).
			wantSource := tt.ins
			for _, id := range d.Patient.IDs {
				if ins, _ := id.IsINS(); !ins {
					wantSource = id
					break
				}
			}
			if m.SourcePatientID != wantSource {
				t.Errorf("Metadata().SourcePatientID = %v, want %v", m.SourcePatientID, wantSource)
			}
			wantType := carnet.Coding{System: SystemLOINC, Code: tt.typ}
			if tt.typ == "CERT_DECL" {
				wantType.System = "urn:oid:1.2.250.1.213.1.1.4.12"
			}
			if m.Type.System != wantType.System || m.Type.Code != wantType.Code {
				t.Errorf("type = %v, want %v", m.Type, wantType)
			}
			if len(m.Authors) != len(tt.rpps) {
				t.Fatalf("%d authors, want %d", len(m.Authors), len(tt.rpps))
			}
			for i, want := range tt.rpps {
				if got := m.Authors[i].ID; got != (carnet.Identifier{System: rpps, Value: want}) {
					t.Errorf("author %d id = %v, want RPPS %s", i, got, want)
				}
			}
			if tt.specialty != "" {
				a := m.Authors[0]
				if a.Specialty.Code != tt.specialty || a.Specialty.System != "urn:oid:1.2.250.1.213.1.1.4.5" {
					t.Errorf("specialty = %v, want %s in JDV_J01", a.Specialty, tt.specialty)
				}
				if a.Profession.Code != "G15_10" {
					t.Errorf("profession = %v, want G15_10", a.Profession)
				}
			}
			if f := formatTable(t).Match(d); f.Code.Code != tt.format {
				t.Errorf("format = %q (%s), want %q", f.Code.Code, f.Reason, tt.format)
			}
			if d.Level != tt.level {
				t.Errorf("level = %s, want %s", d.Level, tt.level)
			}
			if !m.Created.Equal(tt.created) || m.Created.Location() != time.UTC {
				t.Errorf("created = %v, want %v", m.Created, tt.created)
			}
			if d.SetID != tt.setID || d.Version != tt.version {
				t.Errorf("setId/version = %s/%d, want %s/%d", d.SetID, d.Version, tt.setID, tt.version)
			}
			if tt.replaces != "" && (len(d.Replaces) != 1 || d.Replaces[0] != tt.replaces) {
				t.Errorf("replaces = %v, want [%s]", d.Replaces, tt.replaces)
			}
			if len(m.Confidentiality) != 1 || m.Confidentiality[0].Code != "N" {
				t.Errorf("confidentiality = %v, want N", m.Confidentiality)
			}
			if m.Language != "fr-FR" || m.ContentType != "text/xml" {
				t.Errorf("language %q contentType %q", m.Language, m.ContentType)
			}
			gotAtt := ""
			if d.Attachment != nil {
				gotAtt = d.Attachment.MediaType
				if len(d.Attachment.Data) < 5 || string(d.Attachment.Data[:5]) != "%PDF-" {
					t.Errorf("attachment does not start with %%PDF-")
				}
			}
			if gotAtt != tt.attachment {
				t.Errorf("attachment %q, want %q", gotAtt, tt.attachment)
			}
		})
	}
}

// TestServicePeriodAndEvents: LDL-SES is a stay from 29 Oct to 3 Dec 2019.
func TestServicePeriodAndEvents(t *testing.T) {
	m := parseCorpus(t, "LDL-SES_2022.01.xml").Metadata()
	want := carnet.Period{
		Start: time.Date(2019, 10, 29, 10, 17, 0, 0, time.UTC),
		End:   time.Date(2019, 12, 3, 12, 30, 0, 0, time.UTC),
	}
	if !m.ServicePeriod.Start.Equal(want.Start) || !m.ServicePeriod.End.Equal(want.End) {
		t.Errorf("service period = %v, want %v", m.ServicePeriod, want)
	}
	if len(m.Events) == 0 || m.Events[0].Code != "IMP" {
		t.Errorf("events = %v, want IMP first", m.Events)
	}
}
