package upstream

// peekState is what a look at an idle connection found.
type peekState uint8

const (
	// peekOpen: nothing has arrived; the connection is still open.
	peekOpen peekState = iota
	// peekClosed: the target closed (FIN) or reset (RST) the connection.
	peekClosed
	// peekData: the target sent bytes nobody asked for.
	peekData
)
