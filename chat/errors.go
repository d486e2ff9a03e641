package chat

// Error is a failure that the chat service reports to a member's
// request. Its text is what the member is told; Error() adds the
// package prefix. Each transport maps these to its own error form: the
// PB edge (pbmember.go) to the Python exceptions Twisted's chat raises.
type Error string

func (e Error) Error() string { return "chat: " + string(e) }

// The chat's errors.
const (
	// ErrNoGroupName: a join named no group.
	ErrNoGroupName Error = "a group needs a name"
	// ErrLoggedOut: the member's session has ended.
	ErrLoggedOut Error = "logged out"
	// ErrNoSender: a send came from no member.
	ErrNoSender Error = "only members can send"
	// ErrGroupNameTooLong: in a cluster, a group name is at most
	// cluster.MaxNameLen bytes.
	ErrGroupNameTooLong Error = "a group name shared with other brokers is at most 1024 bytes"
	// ErrForbiddenWord: the group does not allow the word "mattress".
	ErrForbiddenWord Error = "Don't say that word"
)
