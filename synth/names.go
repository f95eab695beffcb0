package synth

import "strings"

// French first names, family names and places. Written with their accents;
// INS traits use them folded to upper case (see insForm).

var givenFemale = []string{
	"Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Christine",
	"Monique", "Valérie", "Sandrine", "Sophie", "Céline", "Stéphanie", "Émilie", "Julie",
	"Aurélie", "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Alice",
	"Hélène", "Brigitte", "Anaïs", "Noémie", "Mélanie", "Gaëlle", "Élodie", "Océane",
	"Zoé", "Maëlys", "Agnès", "Thérèse", "Geneviève", "Josiane", "Yasmine", "Fatima",
	"Amina", "Lucie", "Pauline", "Margaux", "Clémence", "Odile", "Martine", "Danielle",
}

var givenMale = []string{
	"Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques",
	"Daniel", "Patrick", "Nicolas", "Christophe", "Stéphane", "Sébastien", "Julien",
	"Thomas", "Alexandre", "Maxime", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Léo",
	"Raphaël", "Jérôme", "Frédéric", "Benoît", "Loïc", "François", "Gérard", "René",
	"Hervé", "Joël", "Mathéo", "Noé", "Karim", "Mohamed", "Mehdi", "Yanis", "Rémi",
	"Cédric", "Antoine", "Étienne", "Olivier", "Guillaume", "Bruno", "Xavier",
}

var familyNames = []string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
	"Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David",
	"Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
	"Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc",
	"Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier",
	"Garcia", "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel",
	"Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont", "Lemaire",
	"Noël", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud", "Joly",
	"Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard",
	"Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard",
	"Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier",
	"Bourgeois", "Benoît", "Rey", "Leclerc", "Payet", "Rolland", "Guillaume", "Lecomte",
	"Lopez", "Dupuy", "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis",
	"Moulin", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer",
	"Klein", "Jacquet", "Adam", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Renault",
	"Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé",
	"Schneider", "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Prévost",
	"Millet", "Perrot", "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois",
	"Rémy", "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun",
	"Marchal", "Weber", "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier", "Michaud",
	"Guichard", "Gillet", "Étienne", "Grondin", "Poulain", "Tessier", "Chauvin",
	"Da Silva", "Bouchet", "Lemaître", "Bénard", "Maréchal", "Humbert", "Reynaud",
	"Hoarau", "Barthélemy", "Cordier", "Pichon", "Lejeune", "Lamy", "Delaunay",
	"Pasquier", "Carlier", "Laporte", "N'Diaye", "Nguyen", "Benali", "Haddad", "Traoré",
}

// commune is a French commune: INSEE code (used for the place of birth and
// in the NIR), postal code and name.
type commune struct{ insee, postal, name string }

var communes = []commune{
	{"75104", "75004", "Paris 4e Arrondissement"},
	{"75111", "75011", "Paris 11e Arrondissement"},
	{"75114", "75014", "Paris 14e Arrondissement"},
	{"75115", "75015", "Paris 15e Arrondissement"},
	{"75118", "75018", "Paris 18e Arrondissement"},
	{"75120", "75020", "Paris 20e Arrondissement"},
	{"69383", "69003", "Lyon 3e Arrondissement"},
	{"69387", "69007", "Lyon 7e Arrondissement"},
	{"13205", "13005", "Marseille 5e Arrondissement"},
	{"13208", "13008", "Marseille 8e Arrondissement"},
	{"31555", "31000", "Toulouse"},
	{"06088", "06000", "Nice"},
	{"44109", "44000", "Nantes"},
	{"67482", "67000", "Strasbourg"},
	{"34172", "34000", "Montpellier"},
	{"33063", "33000", "Bordeaux"},
	{"59350", "59000", "Lille"},
	{"35238", "35000", "Rennes"},
	{"51454", "51100", "Reims"},
	{"42218", "42000", "Saint-Étienne"},
	{"83137", "83000", "Toulon"},
	{"38185", "38000", "Grenoble"},
	{"21231", "21000", "Dijon"},
	{"49007", "49000", "Angers"},
	{"30189", "30000", "Nîmes"},
	{"63113", "63000", "Clermont-Ferrand"},
	{"29019", "29200", "Brest"},
	{"87085", "87000", "Limoges"},
	{"37261", "37000", "Tours"},
	{"80021", "80000", "Amiens"},
	{"57463", "57000", "Metz"},
	{"25056", "25000", "Besançon"},
	{"66136", "66000", "Perpignan"},
	{"45234", "45000", "Orléans"},
	{"76540", "76000", "Rouen"},
	{"14118", "14000", "Caen"},
	{"54395", "54000", "Nancy"},
	{"86194", "86000", "Poitiers"},
	{"64445", "64000", "Pau"},
	{"17300", "17000", "La Rochelle"},
	{"97411", "97400", "Saint-Denis"},
}

var streets = []string{
	"rue de la République", "avenue Jean Jaurès", "boulevard Victor Hugo", "rue Pasteur",
	"place de la Mairie", "rue des Lilas", "chemin des Vignes", "allée des Tilleuls",
	"rue du Général Leclerc", "impasse des Acacias", "rue Émile Zola", "quai Saint-Nicolas",
	"rue de la Gare", "avenue de la Libération", "rue des Écoles", "boulevard Gambetta",
	"rue Voltaire", "rue du Moulin", "avenue des Peupliers", "rue Jules Ferry",
	"rue de l'Église", "rue des Fossés", "cours Mirabeau", "rue Sainte-Catherine",
}

// insForm folds a name to the INS character set: upper case letters
// without diacritics, spaces, hyphens and apostrophes.
func insForm(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case 'à', 'â', 'ä', 'À', 'Â', 'Ä':
			b.WriteByte('A')
		case 'ç', 'Ç':
			b.WriteByte('C')
		case 'é', 'è', 'ê', 'ë', 'É', 'È', 'Ê', 'Ë':
			b.WriteByte('E')
		case 'î', 'ï', 'Î', 'Ï':
			b.WriteByte('I')
		case 'ô', 'ö', 'Ô', 'Ö':
			b.WriteByte('O')
		case 'ù', 'û', 'ü', 'Ù', 'Û', 'Ü':
			b.WriteByte('U')
		case 'ÿ', 'Ÿ':
			b.WriteByte('Y')
		case 'æ', 'Æ':
			b.WriteString("AE")
		case 'œ', 'Œ':
			b.WriteString("OE")
		case '’':
			b.WriteByte('\'')
		default:
			b.WriteString(strings.ToUpper(string(r)))
		}
	}
	return b.String()
}
