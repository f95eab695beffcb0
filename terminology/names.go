package terminology

// Names of the CI-SIS value sets Carnet validates XDS metadata against, as
// the ANS names their files (without .xml). See the package documentation
// for what each one validates.
const (
	// TypeCodes validates DocumentMeta.Type (XDS typeCode): mostly LOINC,
	// plus CI-SIS codes of system 1.2.250.1.213.1.1.4.12 (attestations,
	// patient documents, …). OID 1.2.250.1.213.1.1.5.471.
	TypeCodes = "JDV_J07_XdsTypeCode_CISIS"
	// ConfidentialityCodes validates DocumentMeta.Confidentiality: N, R, V
	// (HL7 Confidentiality) and MASQUE_PS, INVISIBLE_PATIENT,
	// INVISIBLE_REPRESENTANTS_LEGAUX (TRE_A07). OID 1.2.250.1.213.1.1.5.463.
	ConfidentialityCodes = "JDV_J08_XdsConfidentialityCode_CISIS"
	// AuthorSpecialties validates Author.Profession and Author.Specialty
	// (XDS authorSpecialty): profession G15_10 and specialty G15_10/SM04
	// forms in system 1.2.250.1.213.1.1.4.5, and a few codes of other
	// systems.
	AuthorSpecialties = "JDV_J01_XdsAuthorSpecialty_CISIS"
	// FacilityTypes validates DocumentMeta.Facility (XDS
	// healthcareFacilityTypeCode).
	FacilityTypes = "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS"
	// PracticeSettings validates DocumentMeta.PracticeSetting (XDS
	// practiceSettingCode).
	PracticeSettings = "JDV_J04_XdsPracticeSettingCode_CISIS"

	// ClassCodes would validate DocumentMeta.Class (XDS classCode) and
	// FormatCodes DocumentMeta.Format (XDS formatCode). The ANS publishes
	// them as J06 and J10, but the reference set Carnet is tested with does
	// not include them: unless the operator adds the files, Has reports
	// false for these names and a validator must not refuse every class or
	// format code because of it.
	ClassCodes  = "JDV_J06_XdsClassCode_CISIS"
	FormatCodes = "JDV_J10_XdsFormatCode_CISIS"
)
