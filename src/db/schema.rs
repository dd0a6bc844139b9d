// @generated automatically by Diesel CLI.

diesel::table! {
    audit_chain (id) {
        id -> Integer,
        last_seq -> BigInt,
        last_mac -> Text,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_username -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        district_code -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        prev_mac -> Text,
        mac -> Text,
    }
}

diesel::table! {
    districts (code) {
        code -> Text,
        name -> Text,
        division -> Text,
        active -> Bool,
    }
}

diesel::table! {
    user_districts (user_id, district_code) {
        user_id -> Text,
        district_code -> Text,
    }
}

diesel::table! {
    user_schemes (user_id, scheme_id) {
        user_id -> Text,
        scheme_id -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        tokens_valid_after -> Timestamp,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(user_districts -> districts (district_code));
diesel::joinable!(user_districts -> users (user_id));
diesel::joinable!(user_schemes -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_chain,
    audit_events,
    districts,
    user_districts,
    user_schemes,
    users,
);
