-- Grafana Alerting (webhook contact point): notifications of alert groups, in
-- Alertmanager's shape (plus Grafana's `orgId`, `state`, `title`, `message` and per-alert
-- `values`, `dashboardURL`, `panelURL`, which the model does not need). Each alert is one
-- incident row of kind `alert` per firing episode, `grafana:<fingerprint>:<startsAt, UTC>`,
-- built by core.alertmanager_alert_facts (sources/alertmanager): the link is the alert
-- rule's page (`generatorURL`), the service the `service` (else `job`) label, the severity
-- the `severity` label.

-- Grafana deliveries into facts.
CREATE OR REPLACE FUNCTION core.normalize_grafana(p_events core.inbound[])
RETURNS SETOF core.fact LANGUAGE sql STABLE AS $$
    SELECT * FROM core.alertmanager_alert_facts(p_events, 'grafana')
$$;
