package fulltext

// stopWords are the French words too common to tell documents apart:
// articles, pronouns, prepositions, conjunctions and the forms of être and
// avoir. They are written folded (no accents, lower case) because they are
// looked up after folding: "à" is "a", "été" is "ete", "où" is "ou".
//
// Left out on purpose, because they carry clinical meaning: "non" ("non
// fumeur"), "sans" ("sans allergie connue"), "sous" ("sous anticoagulant").
// "pas" is in, as in every French list: a bag of words cannot use a
// negation anyway.
// Single letters are terms ("vitamine D", "hépatite C") except "a" and "y",
// which are verbs and pronouns far more often; "l'", "d'" and the other
// elided forms are removed by the tokenizer, not by this list.
var stopWords = setOf(
	// articles and determiners
	"le", "la", "les", "un", "une", "des", "du", "de", "au", "aux",
	"ce", "cet", "cette", "ces", "mon", "ma", "mes", "ton", "ta", "tes",
	"son", "sa", "ses", "notre", "nos", "votre", "vos", "leur", "leurs",
	"quel", "quelle", "quels", "quelles",
	// pronouns
	"je", "tu", "il", "elle", "on", "nous", "vous", "ils", "elles",
	"me", "te", "se", "lui", "eux", "moi", "toi", "soi", "y", "en",
	"qui", "que", "quoi", "dont", "ou", "lequel", "laquelle", "lesquels",
	"lesquelles", "celui", "celle", "ceux", "celles", "cela", "ca", "ceci",
	// prepositions and conjunctions
	"a", "dans", "par", "pour", "sur", "avec", "chez", "entre", "vers",
	"et", "ni", "mais", "or", "donc", "car", "si", "comme", "lorsque",
	"puisque", "quand", "jusque", "jusqu", "aujourd", "hui",
	// adverbs that say nothing about a document
	"ne", "pas", "plus", "tres", "aussi", "deja", "encore", "ainsi",
	"alors", "meme", "tout", "tous", "toute", "toutes",
	// etre
	"etre", "suis", "es", "est", "sommes", "etes", "sont", "ete", "etait",
	"etaient", "etant", "sera", "seront", "serait", "soit", "soient", "fut",
	// avoir
	"avoir", "ai", "as", "avons", "avez", "ont", "avait", "avaient",
	"ayant", "aura", "auront", "aurait", "eu", "eue", "ait",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
