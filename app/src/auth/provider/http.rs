//! The HTTP client of every call to the provider, and the rule for where a
//! discovery document may send this server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::{reqwest, HttpClientError};

use super::AuthSettings;
use crate::auth::error::Upstream;
use crate::auth::metrics::Metrics;

/// The most any answer of the provider may weigh: a discovery document, a
/// key set, a token or userinfo response is a few kilobytes.
const MAX_BODY: usize = 1 << 20;

/// The HTTP client of every call to the provider: it follows no redirect
/// (which would let a provider point this server at any URL), gives up after
/// `provider_timeout`, and reads at most [`MAX_BODY`] of any answer.
#[derive(Clone)]
pub(crate) struct ProviderHttp {
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl ProviderHttp {
    /// Times every call into `metrics`.
    pub fn new(timeout: Duration, metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self { client, metrics })
    }

    /// The client itself, for the calls `openidconnect` does not make.
    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `call` to the provider's `endpoint`, timed.
    pub(super) async fn timed<T, E>(
        &self,
        endpoint: &'static str,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let result = call.await;
        self.metrics
            .provider_call(endpoint, started, result.is_ok());
        result
    }
}

pub(super) type HttpError = HttpClientError<reqwest::Error>;

impl<'c> openidconnect::AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let mut response = self.client.execute(request).await.map_err(Box::new)?;
            let mut answer = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = read_capped(&mut response).await?;
            answer.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// The body of `response`, or an error past [`MAX_BODY`] bytes, however
/// the provider sends it (with a length, or chunked without one).
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpClientError::Other("the provider's answer is too large".to_owned());
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where the provider's discovery document may send this server (and the
/// browser): every endpoint over https, unless the issuer and the endpoint
/// are both on this machine; for an Authgear-hosted issuer, every endpoint on
/// the issuer's own origin. A document that points elsewhere would send the
/// client secret or the tokens there.
pub(super) fn check_endpoints<'a>(
    issuer: &url::Url,
    authgear_hosted: bool,
    endpoints: impl IntoIterator<Item = (&'static str, &'a url::Url)>,
) -> Result<(), String> {
    let on_this_machine = |url: &url::Url| {
        url.host()
            .is_some_and(|host| crate::auth::is_loopback(&host))
    };
    for (name, endpoint) in endpoints {
        let secure = endpoint.scheme() == "https"
            || (endpoint.scheme() == "http"
                && on_this_machine(issuer)
                && on_this_machine(endpoint));
        if !secure {
            return Err(format!("its {name} is not https: {endpoint}"));
        }
        if authgear_hosted && endpoint.origin() != issuer.origin() {
            return Err(format!(
                "its {name} is not on the issuer's origin: {endpoint}"
            ));
        }
    }
    Ok(())
}

/// [`ProviderHttp`] for discovery: the key set's URL, which the document
/// names, passes [`check_endpoints`] before anything is sent there.
pub(super) struct DiscoveryHttp<'a> {
    pub(super) http: &'a ProviderHttp,
    pub(super) settings: &'a AuthSettings,
    pub(super) discovery_url: url::Url,
}

impl<'c> openidconnect::AsyncHttpClient<'c> for DiscoveryHttp<'_> {
    type Error = HttpError;
    type Future = <ProviderHttp as openidconnect::AsyncHttpClient<'c>>::Future;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let checked = url::Url::parse(&request.uri().to_string())
            .map_err(|error| error.to_string())
            .and_then(|target| {
                if target == self.discovery_url {
                    return Ok(());
                }
                check_endpoints(
                    self.settings.issuer.url(),
                    self.settings.is_authgear_hosted(),
                    [("jwks_uri", &target)],
                )
            });
        match checked {
            Ok(()) => self.http.call(request),
            Err(reason) => Box::pin(std::future::ready(Err(HttpClientError::Other(reason)))),
        }
    }
}

pub(super) fn http_failure(error: &HttpClientError<reqwest::Error>) -> Upstream {
    match error {
        HttpClientError::Reqwest(error) => reqwest_failure(error),
        HttpClientError::Io(_) => Upstream::Broken,
        _ => Upstream::Malformed,
    }
}

pub(super) fn reqwest_failure(error: &reqwest::Error) -> Upstream {
    if error.is_timeout() {
        Upstream::Timeout
    } else if error.is_connect() {
        Upstream::Unreachable
    } else if let Some(status) = error.status() {
        Upstream::Status(status.as_u16())
    } else {
        Upstream::Broken
    }
}

/// An error and its causes on one line, for errors about public material
/// (the discovery document, the key set): `openidconnect` puts the useful
/// part (connection refused, bad JSON) in the source chain.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).expect("url")
    }

    #[test]
    fn endpoints_must_be_https_and_authgear_s_on_its_own_origin() {
        let check = |issuer: &str, authgear: bool, endpoint: &str| {
            check_endpoints(&url(issuer), authgear, [("token_endpoint", &url(endpoint))])
        };
        let authgear = "https://myapp.authgear.cloud";
        assert!(check(authgear, true, "https://myapp.authgear.cloud/oauth2/token").is_ok());
        for elsewhere in [
            "https://evil.example/token",
            "https://other.authgear.cloud/oauth2/token",
            "https://myapp.authgear.cloud:8443/oauth2/token",
            "http://myapp.authgear.cloud/oauth2/token",
        ] {
            let refused = check(authgear, true, elsewhere).expect_err(elsewhere);
            assert!(refused.contains("token_endpoint"), "{refused}");
        }
        // Another provider may keep its endpoints on other hosts, over https.
        assert!(check(
            "https://idp.example",
            false,
            "https://api.idp.example/token"
        )
        .is_ok());
        assert!(check("https://idp.example", false, "http://api.idp.example/token").is_err());
        // Plain http only from this machine to this machine.
        assert!(check(
            "http://127.0.0.1:4000",
            false,
            "http://127.0.0.1:4000/token"
        )
        .is_ok());
        assert!(check("http://localhost:4000", false, "http://[::1]:4001/token").is_ok());
        assert!(check("http://127.0.0.1:4000", false, "http://evil.example/token").is_err());
        assert!(check("https://idp.example", false, "http://127.0.0.1/token").is_err());
    }
}
