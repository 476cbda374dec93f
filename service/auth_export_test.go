package service

import "time"

// SetClock makes the auth service's clock now, for tokens' issue and expiry.
func (a *Auth) SetClock(now func() time.Time) { a.now = now }
