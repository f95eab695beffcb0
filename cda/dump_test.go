package cda

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDump(t *testing.T) {
	if os.Getenv("CDA_DUMP") == "" {
		t.Skip()
	}
	for _, f := range corpusFiles(t) {
		b, _ := os.ReadFile(f)
		d, err := Parse(b, Limits{})
		if err != nil {
			fmt.Println(filepath.Base(f), "ERR", err)
			continue
		}
		ins, _ := d.PatientINS()
		fmt.Printf("%s %s lvl=%s type=%v fmt=%s ins=%v auth=%d secs=%d lab=%d med=%d imm=%d all=%d prob=%d att=%v\n", filepath.Base(f), d.UniqueID, d.Level, d.Type.Code, d.Format.Code, ins, len(d.Authors), len(d.Sections), len(d.LabResults), len(d.Medications), len(d.Immunizations), len(d.Allergies), len(d.Problems), d.Attachment != nil)
		if os.Getenv("CDA_DUMP") == "2" {
			fmt.Printf("  %+v\n  eff=%v conf=%v lang=%s set=%s v=%d rep=%v\n  authors=%+v\n  cust=%+v\n  ev=%+v enc=%+v\n", d.Patient, d.Effective, d.Confidentiality, d.Language, d.SetID, d.Version, d.Replaces, d.Authors, d.Custodian, d.ServiceEvents, d.Encounter)
			for _, r := range d.LabResults {
				fmt.Printf("  LAB %s|%s| %s q=%+v c=%+v t=%q lo=%+v hi=%+v int=%s sp=%s eff=%v\n", r.Code.Code, r.Code.Display, r.ValueType, r.Quantity, r.Coded, r.Text, r.RangeLow, r.RangeHigh, r.Interpretation, r.Specimen.Code, r.Effective.Time)
			}
			for _, r := range d.Medications {
				fmt.Printf("  MED %+v dose=%+v\n", r, r.Dose)
			}
			for _, r := range d.Immunizations {
				fmt.Printf("  IMM %+v\n", r)
			}
			for _, r := range d.Allergies {
				fmt.Printf("  ALL %+v\n", r)
			}
			for _, r := range d.Problems {
				fmt.Printf("  PB %+v\n", r)
			}
		}
	}
}
