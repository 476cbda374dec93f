package model

// MaxReadIDs bounds the ids one mark-read selection may name: the REST call
// and the socket's read frame alike (4 KiB of frame holds fewer anyway).
const MaxReadIDs = 1000

// ReadSelection chooses notifications to mark read: those named in IDs,
// or every one with an id up to UpToID, so that nothing newer than what the
// client has shown is marked. It is the body of POST /notifications/read
// and of the socket's read frame; Validate is its one rule, for the API,
// the socket and the service alike.
type ReadSelection struct {
	IDs    []int64 `json:"ids"`
	UpToID int64   `json:"up_to_id"`
}

// Validate returns EINVALID, naming the field, unless exactly one of IDs
// and UpToID is given, UpToID is positive, and IDs holds at most
// MaxReadIDs positive ids.
func (r ReadSelection) Validate() error {
	switch {
	case len(r.IDs) > 0 && r.UpToID != 0:
		return Errorf(EINVALID, "give either ids or up_to_id, not both")
	case r.UpToID < 0:
		return Errorf(EINVALID, "up_to_id must be a positive integer")
	case r.UpToID > 0:
		return nil
	case len(r.IDs) == 0:
		return Errorf(EINVALID, "ids or up_to_id is required")
	case len(r.IDs) > MaxReadIDs:
		return Errorf(EINVALID, "ids may hold at most %d ids", MaxReadIDs)
	}
	for _, id := range r.IDs {
		if id <= 0 {
			return Errorf(EINVALID, "ids must be positive integers")
		}
	}
	return nil
}
