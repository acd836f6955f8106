"""Monitoring generated from the SLO and from the metric catalogue of the target vLLM: histogram bucket advice,
Prometheus recording rules and burn-rate alerts (with promtool unit tests), and a Grafana dashboard."""
