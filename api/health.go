package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
)

// healthz answers 200 while the process serves requests.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when the database answers within two seconds (and
// whatever else Deps.Ready checks), else 503 unavailable, so a load
// balancer stops sending traffic meanwhile.
func (s *Server) readyz(c *gin.Context) {
	pingCtx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(pingCtx); err != nil {
		// A check that says what is wrong (the schema is behind) is shown
		// as it is; anything else is the database not answering.
		var known *model.Error
		if !errors.As(err, &known) || known.Code != model.EUNAVAILABLE {
			known = &model.Error{Code: model.EUNAVAILABLE, Message: "the database is unavailable", Err: err}
		}
		writeError(c, s.log, known)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
