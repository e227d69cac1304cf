"""Prometheus metrics of one worker (a registry per worker, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks_received = Counter("mlc_webhooks_received", "Concur webhook events stored", ["company"], registry=self.registry)
        self.webhooks_duplicate = Counter("mlc_webhooks_duplicate", "Concur webhook events already stored", ["company"], registry=self.registry)
        self.webhooks_rejected = Counter("mlc_webhooks_rejected", "Concur webhook requests refused", ["reason"], registry=self.registry)
        self.qbwc_calls = Counter("mlc_qbwc_calls", "Web Connector SOAP calls", ["method"], registry=self.registry)
        self.qbxml_requests = Counter("mlc_qbxml_requests", "qbXML requests handed to QuickBooks", ["company", "op"], registry=self.registry)
        self.qbxml_answers = Counter("mlc_qbxml_answers", "qbXML answers by outcome", ["company", "outcome"], registry=self.registry)
        self.documents = Gauge("mlc_documents", "Documents by state", ["company", "state"], registry=self.registry)
        self.concur_calls = Counter("mlc_concur_calls", "Concur API calls by status", ["status"], registry=self.registry)
        self.soap_seconds = Histogram("mlc_qbwc_callback_seconds", "Time to answer a Web Connector callback", ["method"], registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
