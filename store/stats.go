package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Counts are the platform-wide figures on the dashboard.
type Counts struct {
	Users          int64 // wallets that have signed in
	ActiveSessions int64 // live browser sessions
	MyTokens       int64 // the viewer's live API tokens
	JobsCompleted  int64 // River jobs completed
}

// DashboardCounts reads the dashboard figures for userID in one round trip.
func (s *Store) DashboardCounts(ctx context.Context, userID int64) (Counts, error) {
	var c Counts
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM users),
		       (SELECT count(*) FROM sessions WHERE expires_at > now()),
		       (SELECT count(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()),
		       (SELECT count(*) FROM river_job WHERE state = 'completed')`, userID).
		Scan(&c.Users, &c.ActiveSessions, &c.MyTokens, &c.JobsCompleted)
	if err != nil {
		return c, fmt.Errorf("dashboard counts: %w", err)
	}
	return c, nil
}

// JobStateCount is the number of River jobs in one state.
type JobStateCount struct {
	State string
	Count int64
}

// JobCounts returns River job counts by state (every state, zeros included).
func (s *Store) JobCounts(ctx context.Context) ([]JobStateCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT st::text, count(j.id)
		FROM unnest(enum_range(NULL::river_job_state)) AS st
		LEFT JOIN river_job j ON j.state = st
		GROUP BY st ORDER BY st`)
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JobStateCount, error) {
		var c JobStateCount
		return c, r.Scan(&c.State, &c.Count)
	})
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	return counts, nil
}
