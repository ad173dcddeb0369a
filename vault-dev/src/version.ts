// What vault-dev reports as its version in sys/seal-status and sys/health: the Vault API level it
// follows, tagged so no one mistakes it for a HashiCorp build.

export const VAULT_VERSION = '1.17.6+vault-dev';
export const BUILD_DATE = '2024-09-24T19:48:40Z';
