// Who is calling, and what may they do: `Authorization: Bearer <token>` where the token is a
// projected service-account JWT or an API token made from one. Scopes come from the policy at
// each request (an API token never holds more than its service account has now).
import { forbidden, unauthenticated } from '../http/http-error.js'
import { TOKEN_PREFIX, type ApiTokens } from './api-tokens.js'
import type { Policy, Scope } from './policy.js'
import type { ServiceAccount, TokenVerifier } from './service-account-token.js'

export interface Identity extends ServiceAccount {
  scopes: Set<Scope>
  /** Set when the caller used an API token. */
  tokenId?: string
}

export class Authenticator {
  constructor (private readonly d: { verifier: TokenVerifier, tokens: ApiTokens, policy: Policy }) {}

  /** The bearer token of a request, or 401. */
  static bearer (header: string | undefined): string {
    if (header === undefined || header === '') throw unauthenticated('an Authorization: Bearer <token> header is required')
    const m = /^Bearer ([\x21-\x7e]{1,16384})$/i.exec(header)
    if (m == null) throw unauthenticated('the Authorization header must be "Bearer <token>"')
    return m[1] as string
  }

  async authenticate (header: string | undefined, signal: AbortSignal): Promise<Identity> {
    const token = Authenticator.bearer(header)
    if (token.startsWith(TOKEN_PREFIX)) {
      const rec = await this.d.tokens.verify(token, signal)
      const now = this.d.policy.scopesFor(rec.subject, rec.owner)
      const ns = rec.subject.split(':')[2] as string
      return { subject: rec.subject, namespace: ns, name: rec.subject.split(':')[3] as string, scopes: new Set(rec.scopes.filter(s => now.has(s))), tokenId: rec.id }
    }
    const sa = await this.d.verifier.verify(token, signal)
    return { ...sa, scopes: this.d.policy.scopesFor(sa.subject, sa.namespace) }
  }

  /** The service account only (not an API token): exchanging for API tokens needs the real thing. */
  async serviceAccount (header: string | undefined, signal: AbortSignal): Promise<ServiceAccount> {
    const token = Authenticator.bearer(header)
    if (token.startsWith(TOKEN_PREFIX)) throw unauthenticated('an API token cannot make API tokens: present a service-account token')
    return await this.d.verifier.verify(token, signal)
  }

  scopesFor (sa: ServiceAccount): Set<Scope> {
    return this.d.policy.scopesFor(sa.subject, sa.namespace)
  }
}

export function requireScope (id: Identity, scope: Scope): void {
  if (!id.scopes.has(scope)) throw forbidden(`${id.subject} lacks the ${scope} scope`)
}
