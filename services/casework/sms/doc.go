// Package sms sends casework's text messages to retirees and their
// families (issue 16, "Messages to retirees and families"): Chinese
// templates per MessageEvent, quiet hours, an outbox in casework's bbolt
// file with idempotency keys, a sender loop, and gateway adapters for an
// SMS platform's HTTP API and, for development and tests, a file.
//
// No phone number is stored: the outbox keeps the rendered text and,
// once a message went out, the number masked. The Sender asks a
// PhoneBook for the number at the moment it sends (RegistryPhoneBook:
// registry's GetRetireeContact, which registry audits as a read by the
// service). Numbers never reach a log line, an error or a stored reason.
//
// # Guarantee
//
// Each message is sent, then its outcome recorded in a transaction of its
// own. A crash between the two sends it again under the same idempotency
// key: delivery to the gateway is at least once, and exactly once as a
// gateway that de-duplicates by key sees it (FileGateway does, and the
// platforms' APIs take a request id for the purpose; TestSenderKilled
// checks it with SIGKILL). Only one Sender may run over an outbox.
//
// # Wiring it into casework
//
//   - Schema: create every bucket of Buckets (and audit.Bucket, which
//     servicedb's audit log needs anyway) in a migration step of
//     casework's schema.
//   - Startup: NewRenderer(--sms-signature, --sms-max-chars, Asia/Shanghai),
//     ParseQuietHours(--sms-quiet-hours), NewOutbox with the store's
//     *servicedb.Base as the Codec (so that texts are sealed like the
//     rest) and the service's clock, and a Gateway: OpenFileGateway(
//     --sms-file) in development, NewHTTPGateway(HTTPConfig{URL:
//     --sms-url, CredentialsFile: --sms-credentials-file, Body:
//     --sms-body-template, ContentType: --sms-content-type, Timeout:
//     --sms-timeout, CAFile: --sms-ca-file}) in production; exactly one of
//     --sms-file and --sms-url, and neither means no Sender runs (messages
//     stay QUEUED and ListMessages shows them so). Then NewSender(db,
//     outbox, SenderOptions{Phones: RegistryPhoneBook{Registry: client
//     with the service token}, Gateway: …, Logger: …}) and go Run(ctx)
//     beside the server, stopped before the store is closed.
//   - Queueing: where a source event is handled (a feed entry, a complaint
//     resolved), call Outbox.Enqueue in the same transaction as the state
//     change, with an idempotency key derived from the cause (e.g.
//     "cert/<retiree>/<due date>", "activity/<session>/<revision>",
//     "complaint/<ticket>/resolved"), so that re-reading a feed queues
//     nothing twice. Pass the retiree's MessagePreferences as stored by
//     SetMessagePreferences, and in NoPhone the recipients that registry's
//     masked answers show without a number.
//   - RPCs: ListMessageTemplates answers Templates(); ListMessages pages
//     Outbox.ListNewest (ByRetiree or ByCommunity) under the store's page
//     tokens, binding the returned id as the cursor; the message's text
//     names the retiree, so a list is audited as a read of its retirees.
//   - Audit: each gateway call writes an audit entry (action AuditAction,
//     the outcome as reason) in the transaction that records the outcome.
package sms
