// Package seal encrypts Carnet's data at rest: it implements carnet.Sealer
// with envelope encryption, so that the Store only ever holds ciphertext and
// blind-index tokens.
//
// Key hierarchy (docs/ENCRYPTION.md has the byte layouts):
//
//   - Key-encryption keys (KEKs) live outside the database, in a key file
//     (LoadOrCreateKeyFile) or an environment variable (KeyringFromEnv). The
//     newest wraps new data keys; older ones stay loaded to unwrap theirs
//     (Keyring.Rotate).
//   - Each patient has one or more random data keys, wrapped under a KEK and
//     kept in the database through a KeyStore (StoreKeys adapts a
//     carnet.Store). Seal uses the newest, Open the one its ciphertext names.
//     Deleting a patient's wrapped data keys makes the record unreadable
//     (crypto-shredding).
//   - Every ciphertext is AES-256-GCM, self-describing (format version, data
//     key id, nonce) and bound by its additional data to the patient and to
//     the carnet.Binding (object kind, id, version): a ciphertext moved to
//     another place does not open.
//
// Failures are split so that a server never serves garbage: missing or
// wrong keys are KindUnavailable (503); a tampered or misplaced ciphertext is
// KindInternal with no plaintext. A server started without keys uses Locked.
//
// Seal, Token and EnsureDataKey may write the patient's first data key
// through the KeyStore, in a transaction of their own: call them outside any
// Store.Update.
package seal
