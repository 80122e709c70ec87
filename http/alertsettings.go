package http

import (
	"net/http"

	"github.com/skjold-project/skjold"
)

func (s *Server) alerts() (skjold.AlertService, error) {
	if s.svc.Alerts == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "alert settings are not available on this server")
	}
	return s.svc.Alerts, nil
}

func (s *Server) handleAlertSettingsGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.AlertSettings, error) {
		a, err := s.alerts()
		if err != nil {
			return nil, err
		}
		return a.AlertSettings(r.Context())
	})
}

// alertSettingsBody is the answer to a change: the settings, and the webhook secret when a
// new one was made (shown this once).
type alertSettingsBody struct {
	Settings      *skjold.AlertSettings `json:"settings"`
	WebhookSecret string                `json:"webhook_secret,omitempty"`
}

func (s *Server) handleAlertSettingsPut() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, u *skjold.AlertSettingsUpdate) (*alertSettingsBody, error) {
		a, err := s.alerts()
		if err != nil {
			return nil, err
		}
		got, secret, err := a.SetAlertSettings(r.Context(), u)
		if err != nil {
			return nil, err
		}
		return &alertSettingsBody{Settings: got, WebhookSecret: secret}, nil
	})
}

type alertTestBody struct {
	Deliveries []skjold.AlertDelivery `json:"deliveries"`
}

func (s *Server) handleAlertTest() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*alertTestBody, error) {
		a, err := s.alerts()
		if err != nil {
			return nil, err
		}
		d, err := a.TestAlert(r.Context())
		if err != nil {
			return nil, err
		}
		return &alertTestBody{Deliveries: d}, nil
	})
}
