// Registry endpoints: which origin a client connects to, and which CAs it trusts (system roots plus ca-cert).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../../src/errors.js';
import { endpointConnection } from '../../src/oci/index.js';
import { createCertificateAuthority } from '../helpers/tls.js';

describe('endpointConnection', () => {
  const ca = createCertificateAuthority('Endpoint Test CA');
  after(() => rmSync(ca.dir, { recursive: true, force: true }));

  it('connects to the address, or to the override address when set', () => {
    assert.equal(endpointConnection({ address: 'registry.example.com' }).origin, 'https://registry.example.com');
    assert.equal(endpointConnection({ address: '[::1]:5000' }).origin, 'https://[::1]:5000');
    const overridden = endpointConnection({ address: 'registry.example.com', overrideAddress: '10.0.0.5:6000' });
    assert.equal(overridden.origin, 'https://10.0.0.5:6000');
    assert.equal(overridden.connectAddress, '10.0.0.5:6000');
  });

  it('trusts the system roots alone, or the system roots and the given CA', () => {
    assert.equal(endpointConnection({ address: 'r.example' }).ca, undefined);
    const trusted = endpointConnection({ address: 'r.example', caCertPem: ca.certPem }).ca ?? [];
    assert.equal(trusted.length, rootCertificates.length + 1);
    assert.equal(trusted.at(-1)?.trim(), ca.certPem.trim());
  });

  it('refuses bad addresses and CA text that is not certificates, as invalid-input', () => {
    const invalid = (fn: () => unknown, pattern: RegExp) =>
      assert.throws(fn, (e: unknown) => isBerthError(e) && e.kind === 'invalid-input' && pattern.test(e.message));
    invalid(() => endpointConnection({ address: 'https://r.example' }), /not host\[:port\]/);
    invalid(() => endpointConnection({ address: 'r.example', overrideAddress: 'a b' }), /override-address/);
    invalid(() => endpointConnection({ address: 'r.example', caCertPem: 'hello' }), /no PEM certificate/);
    invalid(
      () => endpointConnection({ address: 'r.example', caCertPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }),
      /does not parse/,
    );
  });
});
