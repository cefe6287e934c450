package render

import "errors"

// errNoExchange: the system cannot swap two folders at once.
var errNoExchange = errors.New("swapping two folders at once is not supported here")
