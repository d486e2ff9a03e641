package pb

import "context"

// CallBroker returns the connection of the call that ctx belongs to: ctx
// is a handler's context, or one derived from it (a checker or realm
// called during a PB login gets one). It returns nil for any other
// context. A checker that must end a session later (package authd's
// revocation) closes that connection, which logs the avatar out.
func CallBroker(ctx context.Context) *Broker {
	if st, ok := ctx.Value(callKey{}).(*callState); ok {
		return st.b
	}
	return nil
}
