// Package terminology holds the national value sets (jeux de valeurs, JDV)
// of the ANS CI-SIS as data, and answers carnet.Terminology lookups against
// them: is this code in this value set, and may it be used today?
//
// The value sets are IHE SVS XML files published by the Agence du
// Numérique en Santé. They are not part of the repository: the server loads
// them at start-up with LoadDir from the directory the operator names
// (flag --valuesets DIR, environment CARNET_VALUESETS), so that a new ANS
// release needs no new build. Without a directory the server falls back to
// Unchecked, which validates nothing and says so in the log.
//
// Each concept carries dateValid and dateFin (and so may its value set): a
// retired code is still known, so old documents stay readable, but
// Lookup reports it not valid, and new submissions carrying it are refused.
//
// Value sets Carnet validates XDS metadata against:
//
//	TypeCodes             JDV_J07_XdsTypeCode_CISIS                    typeCode (document type, mostly LOINC)
//	ConfidentialityCodes  JDV_J08_XdsConfidentialityCode_CISIS         confidentialityCode (N, MASQUE_PS, INVISIBLE_PATIENT, …)
//	AuthorSpecialties     JDV_J01_XdsAuthorSpecialty_CISIS             authorSpecialty (profession G15_10, specialty G15_10/SM04, …)
//	FacilityTypes         JDV_J02_XdsHealthcareFacilityTypeCode_CISIS  healthcareFacilityTypeCode
//	PracticeSettings      JDV_J04_XdsPracticeSettingCode_CISIS         practiceSettingCode
//	ClassCodes            JDV_J06_XdsClassCode_CISIS                   classCode (not in the reference set: see Has)
//	FormatCodes           JDV_J10_XdsFormatCode_CISIS                  formatCode (not in the reference set: see Has)
//
// The reference set has no value set for XDS eventCodeList, so event codes
// are not validated. It also holds J197/J231 (identifier types of the XDS
// referenceIdList), which Carnet does not validate yet.
//
// Code systems are OIDs in the files. Lookup accepts an OID bare or as
// urn:oid:, and the FHIR URIs of LOINC (http://loinc.org) and SNOMED CT
// (http://snomed.info/sct), the only two in the mapping table.
//
// Files are read with bounds (MaxFileSize, MaxConcepts, nesting depth) and
// without any DTD: a file with a DOCTYPE is refused.
package terminology
