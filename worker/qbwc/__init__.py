"""QuickBooks Web Connector side: SOAP envelopes, WSDL, .qwc files, HRESULTs (pure pieces) and the
service/session on top of them."""
