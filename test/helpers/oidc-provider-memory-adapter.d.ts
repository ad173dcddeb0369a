// Types for oidc-provider's in-memory adapter factory, which its published typings leave out. The test provider
// shares one store between the Provider instances it makes when it rotates keys, so sessions and grants survive.
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { AdapterFactory } from 'oidc-provider';
  export function createMemoryAdapter(clockTolerance?: number): AdapterFactory;
}
