"""Shared code of every Lambda function: settings, auth, PostgREST and AWS clients, errors,
logging, rate limits and event models. Modules import only what they need; heavy clients
(boto3, JWKS fetching) are created lazily so a handler's cold import stays small."""
