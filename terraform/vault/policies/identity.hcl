# Vault policy for a region's identity service.
#
# Identity provisions clinics, so it alone creates each clinic's transit key
# (clinic-<clinic id>) and, when a clinic is closed after its grace period,
# allows and performs its deletion — the crypto-shredding step. Like every
# service it also encrypts with the key: data keys, unwrap, rewrap.

path "transit/keys/clinic-*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "transit/keys/clinic-*/config" {
  capabilities = ["update"]
}

path "transit/keys/clinic-*/rotate" {
  capabilities = ["update"]
}

path "transit/datakey/plaintext/clinic-*" {
  capabilities = ["update"]
}

path "transit/decrypt/clinic-*" {
  capabilities = ["update"]
}

path "transit/rewrap/clinic-*" {
  capabilities = ["update"]
}
