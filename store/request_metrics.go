package store

import (
	"context"
)

// CountOpenRequests returns, across all tenants, the open data-subject requests by type and
// how many of them are past their due date: the numbers the metrics show. It reads no
// personal data.
func (db *DB) CountOpenRequests(ctx context.Context) (open map[string]int64, overdue int64, err error) {
	now := micros(db.now())
	rows, err := db.query(ctx, `SELECT type, COUNT(*), SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) FROM requests
		WHERE status IN (?, ?, ?, ?, ?) GROUP BY type`, now, openStatuses[0], openStatuses[1], openStatuses[2],
		openStatuses[3], openStatuses[4])
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	open = map[string]int64{}
	for rows.Next() {
		var typ string
		var n, late int64
		if err := rows.Scan(&typ, &n, &late); err != nil {
			return nil, 0, err
		}
		open[typ], overdue = n, overdue+late
	}
	return open, overdue, rows.Err()
}
