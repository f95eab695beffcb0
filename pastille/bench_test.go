package pastille

import "testing"

// BenchmarkRankCard is the work of one CDS Hooks call for a patient with
// 2,000 documents: rank, then write the card. The budget of the card is
// 20 ms server time; this part should take well under 5 ms.
func BenchmarkRankCard(b *testing.B) {
	in := randomInput(randForTest(2000), 2000)
	in.Caller = cardio
	in.LastVisit = lastVisit
	in.Query = ""
	for i := range in.Docs {
		in.Docs[i].TextScore = 0
	}
	b.ReportAllocs()
	for b.Loop() {
		card := Summarize(in, Rank(in), "https://carnet.example/DocumentReference/$relevant?patient=1")
		if card.Summary == "" {
			b.Fatal("no summary")
		}
	}
}

// BenchmarkRankQuery ranks 2,000 documents with a full-text query.
func BenchmarkRankQuery(b *testing.B) {
	in := randomInput(randForTest(2001), 2000)
	in.Query = "insuffisance cardiaque"
	b.ReportAllocs()
	for b.Loop() {
		Rank(in)
	}
}
