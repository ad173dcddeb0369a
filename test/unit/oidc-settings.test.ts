// Single sign-on settings (BERTH_OIDC_*) and the group-to-role mapping: off without an issuer, every malformed
// form a SettingsError naming its setting, and the highest role any group maps to wins.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings, SettingsError } from '../../src/settings.js';
import { parseRoleMapping, roleFor, RoleMappingError } from '../../src/auth/oidc/role-mapping.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-oidc-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ISSUER = 'https://idp.example.com/realms/edge';
const minimal = { BERTH_OIDC_ISSUER: ISSUER, BERTH_OIDC_AUDIENCE: 'berth', BERTH_OIDC_ROLES: 'admin=berth-admins,read=*' };

function fails(env: NodeJS.ProcessEnv, pattern: RegExp, argv: string[] = []): void {
  assert.throws(() => readSettings(argv, env), (e: unknown) => {
    assert.ok(e instanceof SettingsError, String(e));
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

describe('BERTH_OIDC_* settings', () => {
  it('no issuer: single sign-on is off, and any other OIDC setting alone is refused', () => {
    assert.equal(readSettings([], {}).oidc, undefined);
    assert.equal(readSettings([], { BERTH_OIDC_ISSUER: '' }).oidc, undefined);
    for (const name of ['BERTH_OIDC_AUDIENCE', 'BERTH_OIDC_CLIENT_ID', 'BERTH_OIDC_CA_CERT', 'BERTH_OIDC_ROLES', 'BERTH_OIDC_GROUPS_CLAIM']) {
      fails({ [name]: 'x' }, new RegExp(`^${name}: only meaningful with BERTH_OIDC_ISSUER`));
    }
  });

  it('from the environment or flags (flags win); groups claim defaults to groups', () => {
    const ca = join(dir, 'ca.crt');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const settings = readSettings([], { ...minimal, BERTH_OIDC_CLIENT_ID: 'berth-cli', BERTH_OIDC_CA_CERT: ca });
    assert.deepEqual(settings.oidc, {
      issuer: ISSUER,
      audience: 'berth',
      clientId: 'berth-cli',
      caCertPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      groupsClaim: 'groups',
      roles: [{ role: 'admin', group: 'berth-admins' }, { role: 'read', group: '*' }],
    });
    const flagged = readSettings(['--oidc-audience', 'api://berth', '--oidc-groups-claim', 'roles', '--oidc-roles', 'operator=ops'], minimal);
    assert.equal(flagged.oidc?.audience, 'api://berth');
    assert.equal(flagged.oidc?.groupsClaim, 'roles');
    assert.deepEqual(flagged.oidc?.roles, [{ role: 'operator', group: 'ops' }]);
  });

  it('malformed values: a SettingsError naming the setting, never echoing user info', () => {
    for (const issuer of ['http://idp.example.com', 'idp.example.com', 'https://idp.example.com/?x=1', 'https://idp.example.com/#f', 'https://idp .example.com']) {
      fails({ ...minimal, BERTH_OIDC_ISSUER: issuer }, /^BERTH_OIDC_ISSUER: expected the issuer's https:\/\/ URL/);
    }
    fails({ ...minimal, BERTH_OIDC_ISSUER: 'https://user:hunter2-password@idp.example.com' }, /^BERTH_OIDC_ISSUER: no user info in the issuer URL$/);
    fails({ ...minimal, BERTH_OIDC_AUDIENCE: undefined }, /^BERTH_OIDC_AUDIENCE: required with BERTH_OIDC_ISSUER/);
    fails({ ...minimal, BERTH_OIDC_AUDIENCE: 'has space' }, /^BERTH_OIDC_AUDIENCE: expected/);
    fails({ ...minimal, BERTH_OIDC_CLIENT_ID: 'x'.repeat(257) }, /^BERTH_OIDC_CLIENT_ID: expected a client id of 1 to 256/);
    fails({ ...minimal, BERTH_OIDC_GROUPS_CLAIM: 'a b' }, /^BERTH_OIDC_GROUPS_CLAIM: expected a claim name/);
    fails({ ...minimal, BERTH_OIDC_ROLES: undefined }, /^BERTH_OIDC_ROLES: required with BERTH_OIDC_ISSUER/);
    fails({ ...minimal, BERTH_OIDC_ROLES: 'root=wheel' }, /^BERTH_OIDC_ROLES: 'root' is not a role a group can map to \(admin, operator, read\)/);
    fails({ ...minimal, BERTH_OIDC_ROLES: 'site=edge' }, /^BERTH_OIDC_ROLES: 'site' is not a role/);
    fails({ ...minimal, BERTH_OIDC_ROLES: 'admin' }, /^BERTH_OIDC_ROLES: expected comma-separated ROLE=GROUP pairs/);
    fails({ ...minimal, BERTH_OIDC_CA_CERT: join(dir, 'missing.crt') }, /^BERTH_OIDC_CA_CERT: cannot read .*ENOENT/);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    fails({ ...minimal, BERTH_OIDC_CA_CERT: notPem }, /^BERTH_OIDC_CA_CERT: .* holds no PEM certificate/);
  });
});

describe('groups to roles', () => {
  const mapping = parseRoleMapping(' admin = berth-admins , operator=berth-ops,operator=Site Operators,read=berth-readers');

  it('the highest role any group maps to wins, whatever the order of groups', () => {
    assert.equal(roleFor(['berth-readers', 'berth-admins', 'berth-ops'], mapping), 'admin');
    assert.equal(roleFor(['berth-readers', 'Site Operators'], mapping), 'operator');
    assert.equal(roleFor(['berth-readers'], mapping), 'read');
    assert.equal(roleFor(['BERTH-ADMINS', 'berth-admins-old', 'other'], mapping), undefined, 'group names match exactly');
    assert.equal(roleFor([], mapping), undefined);
  });

  it('* gives a role to every user of the issuer, and still loses to a higher group', () => {
    const withAny = parseRoleMapping('read=*,admin=berth-admins');
    assert.equal(roleFor([], withAny), 'read');
    assert.equal(roleFor(['berth-admins'], withAny), 'admin');
  });

  it('refuses empty pairs, missing groups and control characters', () => {
    for (const text of ['', 'admin=', '=g', 'admin=a,,read=b', 'admin=a\u0007b']) {
      assert.throws(() => parseRoleMapping(text), RoleMappingError, JSON.stringify(text));
    }
  });
});
