package leaderjob

import "github.com/leaderjob/leaderjob/leaderjob/cron"

// parseCron parses a Spring cron expression (package cron).
func parseCron(expr string) (cronExpression, error) {
	e, err := cron.Parse(expr)
	if err != nil {
		return nil, err
	}
	return e, nil
}
