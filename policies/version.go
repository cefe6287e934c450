package policies

// Version names the policies embedded in this build. Bump it with every
// change of a .cue file that changes what passes, so that a fleet can tell
// which rules its CI ran (`capiform version`); the digest that `capiform
// version` prints beside it changes with any edit.
const Version = "0.2.0"
