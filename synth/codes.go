package synth

import carnet "github.com/carnet-sante/carnet"

// Code systems, by OID as written in CDA. Metadata codings use them as
// "urn:oid:" URIs, except LOINC which is "http://loinc.org".
const (
	oidLOINC           = "2.16.840.1.113883.6.1"
	oidCIM10           = "2.16.840.1.113883.6.3"
	oidATC             = "2.16.840.1.113883.6.73"
	oidSNOMED          = "2.16.840.1.113883.6.96"
	oidActCode         = "2.16.840.1.113883.5.4"
	oidConfidentiality = "2.16.840.1.113883.5.25"
	oidGender          = "2.16.840.1.113883.5.1"
	oidInterpretation  = "2.16.840.1.113883.5.83"
	oidParticipation   = "2.16.840.1.113883.5.88"
	oidEDQM            = "0.4.0.127.0.16.1.1.2.1"
	oidCCAM            = "1.2.250.1.215.300.1"
	oidClassCode       = "1.2.250.1.213.1.1.4.1"   // TRE_A03-ClasseDocument
	oidAuthorSpecialty = "1.2.250.1.213.1.1.4.5"   // JDV_J01: TRE_G15 professions and their specialties
	oidPracticeSetting = "1.2.250.1.213.1.1.4.9"   // JDV_J04
	oidVisibility      = carnet.OIDVisibility      // TRE_A07: MASQUE_PS, INVISIBLE_PATIENT, …
	oidFacility        = "1.2.250.1.71.4.2.4"      // TRE_R02-SecteurActivite (JDV_J02)
	oidFormatIHE       = "1.3.6.1.4.1.19376.1.2.3" // TRE_A11-IheFormatCode
	oidFormatANS       = "1.2.250.1.213.1.1.4.2.282"
	oidStructure       = "1.2.250.1.71.4.2.2" // Struct_IdNat: "1" + FINESS
	oidOrderID         = "1.2.250.1.213.1.1.9"

	// SystemLOINC is the URI of LOINC in metadata codings.
	SystemLOINC = "http://loinc.org"
)

// code is a coded value as CDA writes it: code, display name, OID.
type code struct{ code, display, system string }

// coding returns c as a metadata coding, its system as a URI.
func (c code) coding() carnet.Coding {
	if c.code == "" {
		return carnet.Coding{}
	}
	return carnet.Coding{System: systemURI(c.system), Code: c.code, Display: c.display}
}

func systemURI(oid string) string {
	if oid == oidLOINC {
		return SystemLOINC
	}
	return "urn:oid:" + oid
}

func (c code) systemName() string {
	switch c.system {
	case oidLOINC:
		return "LOINC"
	case oidCIM10:
		return "CIM-10"
	case oidATC:
		return "ATC"
	case oidSNOMED:
		return "SNOMED CT"
	case oidEDQM:
		return "EDQM"
	case oidCCAM:
		return "CCAM"
	}
	return ""
}

func loinc(c, display string) code { return code{c, display, oidLOINC} }

// Document types (JDV_J07, LOINC), with the official display names.
var (
	typeLab          = loinc("11502-2", "CR d'examens biologiques")
	typePrescription = loinc("57833-6", "Prescription de produits de santé")
	typeDischarge    = loinc("11490-0", "Lettre de liaison à la sortie d'un établissement de soins")
	typeImaging      = loinc("18748-4", "CR d'imagerie médicale")
	typeVaccination  = loinc("87273-9", "Note de vaccination")
	typeSummary      = loinc("60591-5", "Synthèse médicale")
	typeConsultation = loinc("11488-4", "CR ou fiche de consultation ou de visite")
	typeEmergency    = loinc("15507-7", "CR de passage aux urgences")
)

// Class codes (TRE_A03, the classCode value set of the DMP, JDV_J57).
var (
	classReport       = code{"10", "Compte rendu", oidClassCode}
	classSummary      = code{"11", "Synthèse", oidClassCode}
	classPrescription = code{"42", "Prescription", oidClassCode}
	classTreatment    = code{"45", "Traitement administré", oidClassCode}
)

// Format codes: IHE (TRE_A11) and ANS (TRE_A06).
var (
	formatPDF          = code{"urn:ihe:iti:xds-sd:pdf:2008", "Document à corps non structuré en Pdf/A-1", oidFormatIHE}
	formatLab          = code{"urn:ihe:lab:xd-lab:2008", "CR d'examens biologiques", oidFormatIHE}
	formatPrescription = code{"urn:ihe:pharm:pre:2010", "Prescription de produits de santé", oidFormatIHE}
	formatDischarge    = code{"urn:asip:ci-sis:ldl-ses:2017", "Lettre de liaison à la sortie d'un établissement de santé", oidFormatANS}
	formatVaccination  = code{"urn:asip:ci-sis:vac-note:2021", "Note de vaccination", oidFormatANS}
	formatSummary      = code{"urn:asip:ci-sis:vsm:2012", "Volet de synthèse médicale", oidFormatANS}
)

// Healthcare facility types (JDV_J02).
var (
	facilityPublicHospital  = code{"SA01", "Etablissement public de santé", oidFacility}
	facilityPrivateHospital = code{"SA04", "Etablissement privé non PSPH", oidFacility}
	facilitySoloPractice    = code{"SA07", "Cabinet individuel", oidFacility}
	facilityGroupPractice   = code{"SA08", "Cabinet de groupe", oidFacility}
	facilityLab             = code{"SA25", "Laboratoire de biologie médicale", oidFacility}
	facilityPharmacy        = code{"SA33", "Pharmacie d'officine", oidFacility}
	facilityHealthCentre    = code{"SA52", "Maison de santé ou Pôle de santé", oidFacility}
)

// Practice settings (JDV_J04).
var (
	settingAmbulatory = code{"AMBULATOIRE", "Ambulatoire", oidPracticeSetting}
	settingHospital   = code{"ETABLISSEMENT", "Etablissement de santé", oidPracticeSetting}
	settingSAMU       = code{"SAMU_SMUR", "SAMU/SMUR", oidPracticeSetting}
)

// Confidentiality (JDV_J08): N in the CDA, and the DMP visibility labels
// that travel in metadata only.
var (
	confNormal           = code{"N", "Normal", oidConfidentiality}
	labelMasked          = code{carnet.LabelMasquePS, "Masqué aux professionnels de santé", oidVisibility}
	labelHiddenPatient   = code{carnet.LabelInvisiblePatient, "Non visible par le patient", oidVisibility}
	labelHiddenGuardians = code{carnet.LabelInvisibleLegalRep, "Non visible par les représentants légaux du patient", oidVisibility}
)

// Professions and specialties (JDV_J01, codes G15_xx and G15_xx/yyy).
var (
	profPhysician  = code{"G15_10", "Médecin", oidAuthorSpecialty}
	profPharmacist = code{"G15_21", "Pharmacien", oidAuthorSpecialty}
	profDentist    = code{"G15_40", "Chirurgien-Dentiste", oidAuthorSpecialty}
	profNurse      = code{"G15_60", "Infirmier", oidAuthorSpecialty}

	specGP          = code{"G15_10/SM54", "Médecin - Médecine Générale (SM)", oidAuthorSpecialty}
	specCardiology  = code{"G15_10/SM04", "Médecin - Cardiologie et maladies vasculaires (SM)", oidAuthorSpecialty}
	specPneumology  = code{"G15_10/SM41", "Médecin - Pneumologie (SM)", oidAuthorSpecialty}
	specEndocrino   = code{"G15_10/SM16", "Médecin - Endocrinologie et métabolisme (SM)", oidAuthorSpecialty}
	specGastro      = code{"G15_10/SM24", "Médecin - Gastro-entérologie et hépatologie (SM)", oidAuthorSpecialty}
	specNephrology  = code{"G15_10/SM30", "Médecin - Néphrologie (SM)", oidAuthorSpecialty}
	specNeurology   = code{"G15_10/SM32", "Médecin - Neurologie (SM)", oidAuthorSpecialty}
	specPaediatrics = code{"G15_10/SM40", "Médecin - Pédiatrie (SM)", oidAuthorSpecialty}
	specGeriatrics  = code{"G15_10/SM18", "Médecin - Gériatrie (SM)", oidAuthorSpecialty}
	specRheumato    = code{"G15_10/SM48", "Médecin - Rhumatologie (SM)", oidAuthorSpecialty}
	specEmergency   = code{"G15_10/SM59", "Médecin - Médecine d'urgence (SM)", oidAuthorSpecialty}
	specBiology     = code{"G15_10/SM03", "Médecin - Biologie médicale (SM)", oidAuthorSpecialty}
	specRadiology   = code{"G15_10/SM44", "Médecin - Radio-diagnostic (SM)", oidAuthorSpecialty}
	specPharmacy    = code{"G15_21/A", "Pharmacien titulaire d'officine", oidAuthorSpecialty}
	specPharmaBio   = code{"G15_21/G", "Pharmacien biologiste", oidAuthorSpecialty}
)

// Encounter kinds (HL7 ActCode).
var (
	encounterAmbulatory = code{"AMB", "Ambulatoire (hors établissement)", oidActCode}
	encounterInpatient  = code{"IMP", "Hospitalisation (établissement, y compris HAD)", oidActCode}
	encounterEmergency  = code{"EMER", "Urgence", oidActCode}
)

// Code systems of the INS test NIR and RPPS ids, as metadata URIs.
var (
	systemInsTestNIR = "urn:oid:" + carnet.OIDInsTestNIR
	systemRPPS       = "urn:oid:" + carnet.OIDRPPS
	systemStructure  = "urn:oid:" + oidStructure
)
