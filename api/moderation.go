package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/quizsite/discuss/model"
	"github.com/quizsite/discuss/service"
)

type reportRequest struct {
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

type resolveRequest struct {
	Action string `json:"action"`
}

func (s *Server) reportPost(c *gin.Context) (int, any, error) { return s.report(c, model.TargetPost) }
func (s *Server) reportComment(c *gin.Context) (int, any, error) {
	return s.report(c, model.TargetComment)
}

// report answers POST /posts/{id}/report and /comments/{id}/report with
// the new report.
func (s *Server) report(c *gin.Context, typ string) (int, any, error) {
	var req reportRequest
	id, err := pathIDAndJSON(c, &req)
	if err != nil {
		return 0, nil, err
	}
	r, err := s.moderation.Report(ctx(c), typ, id, service.ReportInput{Reason: req.Reason, Note: req.Note})
	return http.StatusCreated, r, err
}

// listReports answers GET /mod/reports, the moderators' queue.
func (s *Server) listReports(c *gin.Context) (int, any, error) {
	limit, err := queryLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.moderation.Queue(ctx(c), service.ReportQuery{
		Status: c.Query("status"), Limit: limit, Cursor: c.Query("cursor"),
	})
	return http.StatusOK, page, err
}

// resolveReport answers POST /mod/reports/{id}/resolve with the resolved
// case.
func (s *Server) resolveReport(c *gin.Context) (int, any, error) {
	return changeByID(c, func(ctx context.Context, id int64, req *resolveRequest) (any, error) {
		return s.moderation.Resolve(ctx, id, req.Action)
	})
}

// moderationLog answers GET /admin/moderation-log.
func (s *Server) moderationLog(c *gin.Context) (int, any, error) {
	return listed(c, s.moderation.Log)
}

func (s *Server) blockUser(c *gin.Context) (int, any, error)   { return noContent(c, s.blocks.Block) }
func (s *Server) unblockUser(c *gin.Context) (int, any, error) { return noContent(c, s.blocks.Unblock) }

// listBlocks answers GET /me/blocks.
func (s *Server) listBlocks(c *gin.Context) (int, any, error) { return listed(c, s.blocks.List) }
