package sms

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// ErrNoPhone reports a recipient without a phone number: the message is
// SUPPRESSED with the error's text as the reason.
var ErrNoPhone = errors.New(ReasonNoPhone)

// ErrPhoneBookUnavailable is a phone book that cannot answer for now
// (registry unreachable, slow or overloaded): the message waits without
// using up an attempt.
var ErrPhoneBookUnavailable = errors.New("phone book unavailable")

// PhoneBook resolves a recipient's phone number when a message is sent,
// so that the outbox never stores one. An error wrapping ErrNoPhone
// suppresses the message; any other is retried. Errors must not quote
// numbers.
type PhoneBook interface {
	Phone(ctx context.Context, retireeID string, r pb.Recipient) (string, error)
}

// RegistryPhoneBook looks numbers up with registry's GetRetireeContact,
// which registry audits as a read by the calling service. The client must
// present a service token.
type RegistryPhoneBook struct {
	Registry registryv1.RegistryServiceClient
}

// Phone implements PhoneBook.
func (b RegistryPhoneBook) Phone(ctx context.Context, retireeID string, r pb.Recipient) (string, error) {
	var contact registryv1.GetRetireeContactRequest_Contact
	switch r {
	case pb.Recipient_RETIREE:
		contact = registryv1.GetRetireeContactRequest_RETIREE
	case pb.Recipient_PRIMARY_CONTACT:
		contact = registryv1.GetRetireeContactRequest_PRIMARY_CONTACT
	default:
		return "", fmt.Errorf("%w: no recipient", ErrNoPhone)
	}
	resp, err := b.Registry.GetRetireeContact(ctx, &registryv1.GetRetireeContactRequest{RetireeId: retireeID, Contact: contact})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		return "", fmt.Errorf("%w: the retiree is not on the roster", ErrNoPhone)
	default:
		if c := status.Code(err); c == codes.Unavailable || c == codes.DeadlineExceeded || c == codes.ResourceExhausted {
			return "", fmt.Errorf("%w: registry: %s", ErrPhoneBookUnavailable, c)
		}
		return "", fmt.Errorf("registry: %s", status.Code(err))
	}
	switch {
	case resp.Status == registryv1.RetireeStatus_DECEASED && r == pb.Recipient_RETIREE:
		return "", fmt.Errorf("%w: the retiree is deceased", ErrNoPhone)
	case resp.Phone == "":
		return "", ErrNoPhone
	}
	return resp.Phone, nil
}
