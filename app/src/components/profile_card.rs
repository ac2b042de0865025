use leptos::prelude::*;

use super::LocalTime;
use crate::claims::UserClaims;

/// The user's claims in words, next to the raw JSON of `SessionView`.
#[component]
pub fn ProfileCard(claims: UserClaims, signed_in_at: Option<String>) -> impl IntoView {
    let UserClaims {
        subject,
        amr,
        is_anonymous,
        is_verified,
        roles,
        name,
        preferred_username,
        email,
        email_verified,
        phone_number,
        phone_number_verified,
        custom_attributes,
        other,
        ..
    } = claims;
    let account = if is_anonymous {
        "Anonymous"
    } else if is_verified {
        "Verified"
    } else {
        "Not verified"
    };
    let roles = if roles.is_empty() {
        "None".to_owned()
    } else {
        roles.join(", ")
    };
    let methods = (!amr.is_empty()).then(|| format!(" ({})", amr.join(", ")));
    view! {
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Your profile"</h2>
            <dl class="facts">
                <Fact term="Name" value=name/>
                <Fact term="Username" value=preferred_username/>
                <dt>"Email"</dt>
                <dd>{or_dash(email)} <Verified flag=email_verified/></dd>
                <dt>"Phone"</dt>
                <dd>{or_dash(phone_number)} <Verified flag=phone_number_verified/></dd>
                <dt>"Account"</dt>
                <dd>{account}</dd>
                <dt>"Roles"</dt>
                <dd data-testid="roles">{roles}</dd>
                <dt>"Last sign-in"</dt>
                <dd>
                    {match signed_in_at {
                        Some(at) => view! { <LocalTime at/> }.into_any(),
                        None => "—".into_any(),
                    }}
                    {methods}
                </dd>
                <dt>"User ID"</dt>
                <dd><code>{subject}</code></dd>
                {custom_attributes
                    .into_iter()
                    .map(|(name, value)| view! { <dt>{name}</dt><dd><code>{value}</code></dd> })
                    .collect_view()}
            </dl>
            {(!other.is_empty()).then(|| view! {
                <h3>"Other claims"</h3>
                <dl class="facts">
                    {other
                        .into_iter()
                        .map(|(name, value)| view! { <dt>{name}</dt><dd><code>{value}</code></dd> })
                        .collect_view()}
                </dl>
            })}
        </section>
    }
}

#[component]
fn Fact(term: &'static str, value: Option<String>) -> impl IntoView {
    view! {
        <dt>{term}</dt>
        <dd>{or_dash(value)}</dd>
    }
}

#[component]
fn Verified(flag: Option<bool>) -> impl IntoView {
    flag.map(|verified| {
        let (class, text) = if verified {
            ("badge ok", "verified")
        } else {
            ("badge warn", "unverified")
        };
        view! { <span class=class>{text}</span> }
    })
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "—".to_owned())
}
