package synth

// DemoOptions is the demo dataset `carnet serve --demo` files: small enough
// to load in seconds, large enough to show paging, several kinds of
// documents and several authors. Its first four patients are the demo
// logins' (patient0…patient3) whatever the number of patients.
var DemoOptions = Options{Seed: 2024, Patients: 20, DocsPerPatient: 15}
