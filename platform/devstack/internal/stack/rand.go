package stack

import "crypto/rand"

var randRead = rand.Read
