package synth

import (
	"fmt"
	"strings"
	"time"
)

// imagingReport writes a CR d'imagerie médicale as a PDF in a CDA.
func (b *builder) imagingReport() {
	r, per := b.r, b.per
	var eligible []exam
	for _, e := range exams {
		if per.age >= e.minAge && (!e.femaleOnly || per.female) {
			eligible = append(eligible, e)
		}
	}
	e := pick(r, eligible)
	abnormal := chance(r, 0.25)
	start := b.created.Add(-time.Duration(between(r, 30, 240)) * time.Minute)
	ev := serviceEvent{classCode: "ACT", code: e.code, low: start, high: start.Add(time.Duration(between(r, 10, 40)) * time.Minute), performer: b.author}
	if e.ccam.code != "" {
		ev.translations = []code{e.ccam}
	}
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, tmplPDF},
		typ:       typeImaging, class: classReport, format: formatPDF,
		title:     "Compte rendu d'imagerie — " + e.title,
		encounter: encounterAmbulatory,
		encLow:    start,
		events:    []serviceEvent{ev},
	}
	if b.author.org.setting == settingHospital {
		h.encounter = encounterInpatient
	}
	if abnormal && chance(r, 0.2) {
		// Announced to the patient at a consultation before they can read it.
		b.labels = append(b.labels, labelHiddenPatient)
	}
	b.writeHeader(h)
	b.lines = append(b.lines, "INDICATION", pick(r, e.indication), "", "TECHNIQUE", e.technique, "", "RÉSULTATS")
	findings := append([]string(nil), e.normal...)
	if abnormal {
		findings[r.IntN(len(findings))] = pick(r, e.abnormal)
	}
	b.lines = append(b.lines, findings...)
	b.lines = append(b.lines, "", "CONCLUSION")
	if abnormal {
		b.lines = append(b.lines, e.concAbnorm)
	} else {
		b.lines = append(b.lines, e.concNormal)
	}
	b.signature()
	if b.target > 0 {
		b.lines = append(b.lines, "", "INFORMATIONS DE RADIOPROTECTION",
			fmt.Sprintf("Produit dose surface : %d mGy.cm². Les informations dosimétriques sont conservées dans le dossier d'imagerie.", between(r, 20, 1500)))
	}
	b.nonXMLBody()
	b.closeDocument(false)
}

var specialtyNames = map[string]string{
	specGP.code: "médecine générale", specCardiology.code: "cardiologie", specPneumology.code: "pneumologie",
	specEndocrino.code: "endocrinologie", specGastro.code: "gastro-entérologie", specNephrology.code: "néphrologie",
	specNeurology.code: "neurologie", specPaediatrics.code: "pédiatrie", specGeriatrics.code: "gériatrie",
	specRheumato.code: "rhumatologie", specEmergency.code: "médecine d'urgence",
}

var consultationMotives = []string{
	"Suivi d'une pathologie chronique.", "Renouvellement de traitement et bilan annuel.",
	"Fatigue depuis plusieurs semaines.", "Douleurs articulaires diffuses.",
	"Essoufflement à l'effort.", "Céphalées récidivantes.", "Contrôle tensionnel.",
	"Avis demandé par le médecin traitant.", "Toux persistante.", "Bilan avant reprise du sport.",
}

// consultationReport writes a CR de consultation as a PDF in a CDA.
func (b *builder) consultationReport() {
	r, per, a := b.r, b.per, b.author
	spec := specialtyNames[a.specialty.code]
	title := "Compte rendu de consultation"
	if spec != "" {
		title += " de " + spec
	}
	start := b.created.Add(-time.Duration(between(r, 20, 90)) * time.Minute)
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, tmplPDF},
		typ:       typeConsultation, class: classReport, format: formatPDF,
		title:     title,
		encounter: encounterAmbulatory,
		encLow:    start,
		events:    []serviceEvent{{classCode: "ACT", low: start, high: start.Add(time.Duration(between(r, 15, 40)) * time.Minute), performer: a}},
	}
	b.writeHeader(h)
	if a.index != per.GP {
		b.lines = append(b.lines, "Cher confrère, chère consœur,", "J'ai vu en consultation ce jour "+per.displayName()+", âgé"+feminine(per)+fmt.Sprintf(" de %d ans.", per.age), "")
	}
	b.lines = append(b.lines, "MOTIF", pick(r, consultationMotives), "", "ANTÉCÉDENTS")
	if len(per.conditions) == 0 {
		b.lines = append(b.lines, "Pas d'antécédent notable.")
	}
	for _, c := range per.conditions {
		b.lines = append(b.lines, "– "+c.sentence)
	}
	if per.allergy != "" {
		b.lines = append(b.lines, "Allergie : "+per.allergy+".")
	}
	b.lines = append(b.lines, "", "TRAITEMENT EN COURS")
	drugs := b.longTermDrugs(nil)
	if len(drugs) == 0 {
		b.lines = append(b.lines, "Aucun traitement au long cours.")
	}
	for _, d := range drugs {
		b.lines = append(b.lines, "– "+d.name+" : "+d.when)
	}
	b.lines = append(b.lines, "", "EXAMEN CLINIQUE")
	b.lines = append(b.lines, b.examination()...)
	b.lines = append(b.lines, "", "CONCLUSION ET CONDUITE À TENIR")
	b.lines = append(b.lines, b.advice(between(r, 2, 4))...)
	if b.target > 0 {
		b.lines = append(b.lines, "", "DISCUSSION")
		b.lines = append(b.lines, b.clinicalSentences(between(r, 4, 8))...)
	}
	b.signature()
	b.nonXMLBody()
	b.closeDocument(false)
}

type emergencyCase struct {
	motif, story, diagnosis, outcome string
	child                            bool
}

var emergencyCases = []emergencyCase{
	{"Traumatisme de la cheville droite", "Entorse en descendant un escalier, appui impossible.", "Entorse latérale de la cheville droite de gravité moyenne, radiographie sans fracture.", "Retour à domicile avec attelle et béquilles.", true},
	{"Douleur abdominale", "Douleur de la fosse iliaque droite depuis 24 heures, fébricule à 38,2 °C.", "Appendicite aiguë confirmée au scanner.", "Transfert en chirurgie viscérale pour appendicectomie.", true},
	{"Malaise", "Malaise en position debout prolongée, perte de connaissance brève, récupération rapide.", "Malaise vagal, ECG et bilan biologique normaux.", "Retour à domicile, consultation chez le médecin traitant si récidive.", false},
	{"Dyspnée aiguë", "Dyspnée d'aggravation progressive sur trois jours, toux.", "Bronchite aiguë sans signe de gravité, saturation à 96 %.", "Retour à domicile avec traitement symptomatique.", false},
	{"Plaie de la main gauche", "Coupure par couteau de cuisine, saignement contrôlé.", "Plaie superficielle de l'éminence thénar sans atteinte tendineuse, suturée par 4 points.", "Ablation des fils à J10, vaccination antitétanique à jour.", true},
	{"Fièvre", "Fièvre à 39,5 °C depuis 48 heures, otalgie droite.", "Otite moyenne aiguë purulente droite.", "Retour à domicile sous antibiothérapie.", true},
	{"Douleur thoracique", "Douleur rétrosternale de repos depuis une heure.", "Syndrome coronarien écarté : troponine négative à deux reprises.", "Retour à domicile, épreuve d'effort à programmer.", false},
}

// emergencyReport writes a CR de passage aux urgences as a PDF in a CDA.
func (b *builder) emergencyReport() {
	r, per := b.r, b.per
	var candidates []emergencyCase
	for _, c := range emergencyCases {
		if per.age >= 18 || c.child {
			candidates = append(candidates, c)
		}
	}
	c := pick(r, candidates)
	arrived := b.created.Add(-time.Duration(between(r, 90, 480)) * time.Minute)
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, tmplPDF},
		typ:       typeEmergency, class: classReport, format: formatPDF,
		title:     "Compte rendu de passage aux urgences",
		encounter: encounterEmergency,
		encLow:    arrived, encHigh: b.created,
		events: []serviceEvent{{classCode: "ACT", low: arrived, high: b.created, performer: b.author}},
	}
	b.writeHeader(h)
	b.lines = append(b.lines,
		"Arrivée le "+frDateTime(arrived)+", sortie le "+frDateTime(b.created)+".", "",
		"MOTIF DE RECOURS", c.motif, "",
		"HISTOIRE DE LA MALADIE", c.story, "",
		"EXAMEN CLINIQUE")
	b.lines = append(b.lines, b.examination()...)
	b.lines = append(b.lines, "", "DIAGNOSTIC", c.diagnosis, "", "ORIENTATION", c.outcome)
	if b.target > 0 {
		b.lines = append(b.lines, "", "ÉVOLUTION AUX URGENCES")
		b.lines = append(b.lines, b.clinicalSentences(between(r, 4, 8))...)
	}
	b.signature()
	b.nonXMLBody()
	b.closeDocument(false)
}

// examination returns the findings of a clinical examination.
func (b *builder) examination() []string {
	r, per := b.r, b.per
	out := []string{fmt.Sprintf("Poids %d kg, taille %d cm.", per.weightKg, per.heightCm)}
	sys, dia := between(r, 110, 138), between(r, 65, 85)
	if per.has(&condHypertension) && chance(r, 0.4) {
		sys, dia = between(r, 142, 168), between(r, 88, 98)
	}
	if per.age >= 12 {
		out = append(out, fmt.Sprintf("Pression artérielle %d/%d mmHg, fréquence cardiaque %d/min, saturation %d %% en air ambiant.", sys, dia, between(r, 58, 92), between(r, 95, 99)))
	}
	exam := []string{
		"Auscultation cardiaque : bruits du cœur réguliers, sans souffle.",
		"Auscultation pulmonaire : murmure vésiculaire symétrique, sans bruit surajouté.",
		"Abdomen souple, dépressible et indolore.",
		"Pas d'œdème des membres inférieurs, mollets souples.",
		"Examen neurologique sans déficit sensitivo-moteur.",
		"Pas d'adénopathie cervicale ni axillaire palpable.",
	}
	if per.has(&condHeartFailure) {
		exam[3] = "Œdèmes bilatéraux des chevilles, prenant le godet."
	}
	if per.has(&condAsthma) || per.has(&condCOPD) {
		if chance(r, 0.5) {
			exam[1] = "Auscultation pulmonaire : quelques sibilants expiratoires diffus."
		}
	}
	for _, i := range sample(r, len(exam), between(r, 3, len(exam))) {
		out = append(out, exam[i])
	}
	return out
}

var adviceSentences = []string{
	"Poursuite du traitement habituel, sans modification.",
	"Contrôle biologique (ionogramme sanguin, créatinine) dans un mois.",
	"Revoir en consultation dans trois mois, ou avant en cas de besoin.",
	"Règles hygiéno-diététiques rappelées : activité physique régulière, alimentation peu salée.",
	"Vaccination antigrippale recommandée à l'automne.",
	"Arrêt du tabac conseillé, aide au sevrage proposée.",
	"Automesure tensionnelle à domicile pendant une semaine avant la prochaine consultation.",
	"Bilan lipidique et glycémie à jeun à réaliser avant la prochaine visite.",
	"Kinésithérapie prescrite, dix séances.",
	"Le patient est informé des signes devant amener à consulter en urgence.",
}

func (b *builder) advice(n int) []string {
	var out []string
	for _, i := range sample(b.r, len(adviceSentences), n) {
		if strings.Contains(adviceSentences[i], "tabac") && !b.per.smoker {
			continue
		}
		out = append(out, adviceSentences[i])
	}
	return out
}

var clinicalSentences = []string{
	"L'interrogatoire ne retrouve pas de facteur déclenchant particulier.",
	"Le patient rapporte une bonne observance du traitement, confirmée par l'entourage.",
	"Pas d'effet indésirable rapporté depuis la dernière consultation.",
	"L'état général est conservé, sans amaigrissement ni sueurs nocturnes.",
	"Le sommeil est de bonne qualité, sans réveil nocturne.",
	"L'autonomie est complète pour les actes de la vie quotidienne.",
	"Le retour à domicile s'effectue dans de bonnes conditions, avec l'aide de la famille.",
	"Les résultats biologiques récents ont été commentés et remis au patient.",
	"Une éducation thérapeutique a été réalisée, avec remise d'un document explicatif.",
	"La tolérance clinique du traitement est satisfaisante.",
	"Il n'existe pas de contre-indication à la poursuite de l'activité professionnelle.",
	"Les objectifs thérapeutiques ont été expliqués et compris.",
	"Le carnet de suivi a été mis à jour au cours de la consultation.",
	"Aucune interaction médicamenteuse significative n'est relevée avec le traitement en cours.",
	"Les modalités de surveillance ont été détaillées avec le patient et son aidant.",
	"La douleur est évaluée à 2 sur 10 sur l'échelle numérique, bien contrôlée par le paracétamol.",
	"La marche est possible sans aide technique, périmètre de marche supérieur à un kilomètre.",
	"L'examen cutané ne retrouve pas de lésion suspecte.",
	"Le bilan de chute ne met pas en évidence de trouble de l'équilibre.",
	"La fonction rénale est stable par rapport au bilan précédent.",
}

func (b *builder) clinicalSentences(n int) []string {
	var out []string
	for _, i := range sample(b.r, len(clinicalSentences), n) {
		out = append(out, clinicalSentences[i])
	}
	return out
}

// filler returns more of the material real documents carry in their PDF
// rendering: notes, explanations, previous results, legal mentions. Used
// only to bring LargeDocs documents to their size.
func (b *builder) filler() []string {
	r := b.r
	var out []string
	switch b.doc.Kind {
	case KindLabN3, KindLabN1:
		out = append(out, "", "NOTES TECHNIQUES")
		out = append(out, pick(r, labNotes), pick(r, labNotes), pick(r, labNotes))
	case KindPrescription, KindDischarge, KindSummary:
		out = append(out, "", "INFORMATION DU PATIENT SUR SON TRAITEMENT")
		for _, d := range b.longTermDrugs(nil) {
			out = append(out, d.name+" : "+d.when+". "+pick(r, drugNotes))
		}
		out = append(out, b.clinicalSentences(3)...)
	case KindImaging:
		out = append(out, "", "INFORMATIONS COMPLÉMENTAIRES")
		out = append(out, pick(r, imagingNotes), pick(r, imagingNotes),
			fmt.Sprintf("Comparaison avec l'examen antérieur du %s : aspect superposable.", frDate(b.created.AddDate(-between(r, 1, 4), -r.IntN(12), 0))))
	case KindVaccination:
		out = append(out, "")
		out = append(out, pick(r, vaccinationNotes), pick(r, vaccinationNotes))
	default:
		out = append(out, "")
		out = append(out, b.clinicalSentences(between(r, 3, 5))...)
	}
	out = append(out, pick(r, legalNotes))
	return out
}

var labNotes = []string{
	"Le débit de filtration glomérulaire est estimé par l'équation CKD-EPI 2021, sans coefficient ethnique.",
	"Les valeurs de référence sont établies pour l'adulte et la technique utilisée sur automate.",
	"Hémolyse légère de l'échantillon, sans incidence sur les résultats rendus.",
	"Résultat contrôlé sur un second passage analytique.",
	"Le cholestérol LDL est calculé par la formule de Friedewald lorsque les triglycérides sont inférieurs à 3,4 g/L.",
	"Dosage de la TSH par méthode immunologique en électrochimiluminescence.",
	"La troponine est dosée par une méthode ultrasensible ; le seuil correspond au 99e percentile d'une population de référence.",
	"Les échantillons sont conservés sept jours au laboratoire pour un éventuel contrôle.",
	"Numération réalisée sur automate d'hématologie, formule leucocytaire vérifiée au microscope.",
	"Accréditation COFRAC n° 8-3712, portée disponible sur www.cofrac.fr ; seules les analyses signalées relèvent de l'accréditation.",
}

var imagingNotes = []string{
	"Examen réalisé sur un équipement numérique, images transmises au système d'archivage de l'établissement.",
	"Les images sont consultables par le médecin prescripteur sur le portail d'imagerie pendant un an.",
	"Dose délivrée conforme aux niveaux de référence diagnostiques en vigueur.",
	"Aucune réaction au produit de contraste n'a été observée pendant la surveillance.",
	"Patient informé des résultats à l'issue de l'examen.",
	"Le compte rendu définitif tient compte des renseignements cliniques transmis par le prescripteur.",
	"Une relecture en double lecture a été réalisée conformément au protocole du dépistage organisé.",
}

var vaccinationNotes = []string{
	"Surveillance de quinze minutes après l'injection, sans réaction immédiate.",
	"Prochain rappel recommandé selon le calendrier des vaccinations en vigueur.",
	"Le patient a été informé des effets indésirables possibles : douleur au point d'injection, fièvre modérée.",
	"Le numéro de lot a été reporté dans le carnet de vaccination.",
	"Vaccin conservé entre +2 °C et +8 °C jusqu'à l'administration.",
	"Absence de contre-indication retrouvée à l'interrogatoire.",
}

var drugNotes = []string{
	"Ne pas arrêter ce traitement sans avis médical.",
	"En cas d'oubli, ne pas doubler la dose suivante.",
	"Signaler tout effet indésirable à votre médecin ou à votre pharmacien.",
	"Ce traitement peut être pris pendant ou en dehors des repas.",
	"Éviter l'automédication, notamment par anti-inflammatoires.",
	"Un contrôle biologique régulier permet d'adapter la dose.",
}

var legalNotes = []string{
	"Ce document contient des données de santé à caractère personnel soumises au secret médical.",
	"Document transmis au dossier médical partagé du patient conformément à la réglementation en vigueur.",
	"Toute reproduction ou diffusion de ce document à un tiers non autorisé est interdite.",
	"Le patient peut exercer ses droits d'accès et de rectification auprès de l'établissement.",
}
