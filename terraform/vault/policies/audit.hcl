# Vault policy for a region's audit service: everything in service.hcl (it
# opens sealed client addresses for the activity report) plus the region's
# digest-signing key. The Ed25519 key audit-digests is created by the audit
# service on its first start and never leaves Vault: the service may sign
# with it and read its public halves, but not export, reconfigure or delete
# it. Rotate it with `vault write -f transit/keys/audit-digests/rotate` as an
# operator; old digests stay verifiable with the older versions.

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

path "transit/keys/audit-digests" {
  capabilities = ["create", "read"]
}

path "transit/sign/audit-digests" {
  capabilities = ["update"]
}
