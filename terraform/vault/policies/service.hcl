# Vault policy for every regional service except identity (scheduling,
# charting, billing, messaging, audit).
#
# A service may use a clinic's transit key — take new data keys, unwrap the
# ones it stored, rewrap them after a rotation — but never create, rotate,
# reconfigure or delete a key: those belong to identity.

path "transit/datakey/plaintext/clinic-*" {
  capabilities = ["update"]
}

path "transit/decrypt/clinic-*" {
  capabilities = ["update"]
}

path "transit/rewrap/clinic-*" {
  capabilities = ["update"]
}

path "transit/keys/clinic-*" {
  capabilities = ["read"]
}
