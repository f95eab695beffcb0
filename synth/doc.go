// Package synth generates synthetic French patients, health professionals
// and CDA R2 documents, deterministically: the same Options give the same
// bytes, on any machine (math/rand/v2 PCG generators seeded from
// Options.Seed, no clock, no map iteration, French local time computed
// without the host's zone database).
//
// It serves three uses: `carnet serve --demo` (a few hundred documents and
// stable demo logins), the tests of every package (documents whose
// metadata and lab results are known, so that extraction can be checked),
// and benchmarks (Options.EachDocument streams 100,000 documents of 20–50
// KB with Options.LargeDocs, without holding them in memory).
//
// Documents follow the shapes of the ANS CI-SIS examples: header with
// realmCode FR, the CI-SIS conformance templates, the patient's test INS
// (1.2.250.1.213.1.4.10) and INS traits, the author's RPPS id, profession
// and practice setting, custodian, legal authenticator, service events and
// the encounter's healthcare facility. Kinds, with their frequencies:
// structured lab reports (XD-LAB, LOINC results with UCUM units, reference
// ranges and H/L/N interpretation), the same as PDF in CDA (N1),
// prescriptions (IHE PRE), discharge letters (LDL-SES), imaging,
// consultation and emergency reports (N1), vaccination notes (VAC-NOTE)
// and medical summaries (VSM). Every coded metadata value is taken from
// the national value sets (JDV_J01, J02, J04, J07, J08; class codes from
// TRE_A03, format codes from TRE_A06 and TRE_A11). The PDFs are small
// valid PDF 1.4 files written here, with the report's French text.
//
// The patients' clinical picture is consistent: chronic conditions drawn
// by age (hypertension, diabetes, heart failure, …) drive the abnormal lab
// results, the treatments prescribed and the letters' narratives. The
// first patients and the first professionals (RosterLogins) are fixed
// whatever the seed, so that demos can name them.
//
// Identifiers inside documents (entry ids, uniqueIds) come from the
// seeded generators, not from crypto/rand: synthetic data must be
// reproducible, and must never be used as real identifiers.
package synth
