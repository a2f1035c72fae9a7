// Package authn authenticates callers of the socmgmt services and answers
// the coarse authorisation questions the role table in DESIGN.md asks.
//
// Callers present an Ed25519-signed JWT (alg EdDSA) as a gRPC
// "authorization: Bearer <token>" header. A token names its issuer
// ([Issuer]), its audience ([Audience], or one program's
// [ServiceAudience]), its id (jti) and the key that signed it (kid,
// [KeyID]). A [Verifier] checks it against a [KeySet], so that a signing
// key is rotated by accepting two keys for a while ([WatchKeySet] takes
// up a changed key file), bounds its lifetime by role ([TokenPolicy]),
// and refuses the tokens on its [Revocations] list, which registry holds
// and the other programs follow ([FollowRevocations]). It caches
// successful verifications so the hot path costs one SHA-256 instead of
// one Ed25519 verification, and its interceptors put the resulting
// [Principal] into the request context. Handlers then call [Require] for
// the role check and do the object-level checks (community, enterprise)
// themselves with [Principal.InArea] (a clerk's communities, a
// supervisor's street office or district) and the principal's fields.
//
// The other side is how a program presents itself when it calls another:
// [Dial] connects to a sibling service, with [CallCredentials] when a
// service calls as itself, or with none when the gateway forwards its
// client's own token.
package authn
