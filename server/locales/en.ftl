# CRM Bridge admin UI — English. Every key must also be in cs.ftl (a unit test checks).

app-name = CRM Bridge
skip-to-content = Skip to content
nav-label = Admin sections
nav-company = Company
nav-crm = CRM connection
nav-webhook = Webhook
nav-import = Import
nav-office365 = Office 365
nav-employees = Employees
nav-sync = Sync parameters
nav-health = Health
nav-audit = Audit log
nav-account = My account
nav-forbidden = Not allowed
forbidden-admin-only = This page is for administrators. Ask an admin of CRM Bridge to give you the admin role.
language-label = Language
language-switch = Switch
language-unknown = That language is not available.
sign-in = Sign in
sign-out = Sign out
save-settings = Save
search-submit = Search
copy-text = Copy
loading-data = Loading…
nothing-yet = Nothing yet
not-available = Not available yet
form-has-errors = Some fields need your attention; see the messages next to them.
count-events = { $count ->
    [one] { $count } event
   *[other] { $count } events
}

flash-saved = Saved.
flash-created = Created.
flash-deleted = Deleted.
flash-generated = A new webhook ID was generated.
flash-registered = The webhook is registered in Raynet.
flash-password = Your password was changed. Other sessions of your account were signed out.

error-required = This field is required.
error-too-long = This is too long.
error-email = Enter an e-mail address such as name@example.com.
error-url = Enter an address starting with https://.
error-guid = Enter a GUID such as 00000000-0000-0000-0000-000000000000.
error-api-key = This is not a valid API key.
error-internal = Something went wrong on the server. The details are in the server log.
error-upstream = The other service answered with an error: { $detail }
error-unavailable = Not available: { $detail }
error-rate = Too many requests: { $detail }

login-title = Sign in
login-email = E-mail
login-password = Password
login-wrong = Wrong e-mail or password.
login-throttled = Too many failed sign-ins. Wait a little (at most 15 minutes) and try again.

setup-title = Create the first admin
setup-intro = CRM Bridge has no administrator yet. Choose the e-mail and password you will sign in with; you can add more admins later under Employees.
setup-create = Create admin
setup-done = The admin { $email } was created. Sign in to continue the setup.
setup-link-gone = This setup link is invalid, expired or already used. Run <code>crm-bridge admin create --email E</code> on the server, or restart the server for a new link while no admin exists.
setup-form-expired = The form has expired or came from another page. Enter your e-mail and password again and submit once more.

account-title = My account
account-password-heading = Change password
account-current-password = Current password
account-new-password = New password
account-new-password-hint = At least { $min } characters.
account-change-password = Change password
account-current-wrong = The current password is wrong.

company-title = Company
company-name = Company name
company-ico = IČO
company-ico-hint = Company identification number: 8 digits.
company-ico-format = The IČO has exactly 8 digits.
company-ico-checksum = This IČO has a wrong check digit; check for a typo.
company-dic = DIČ
company-dic-hint = VAT number: CZ followed by 8 to 10 digits, for example CZ12345678.
company-dic-format = The DIČ is CZ followed by 8 to 10 digits.

crm-title = CRM connection
crm-base-url = API address
crm-base-url-hint = Pick the Raynet server of your account; most accounts use https://app.raynet.cz/api/v2/.
crm-instance = Instance
crm-instance-hint = The first part of the address after app.raynet.cz when you are signed in to Raynet: in https://app.raynet.cz/acme/ it is acme.
crm-instance-format = Use only letters, digits, dots, dashes and underscores.
crm-user-email = Admin e-mail
crm-user-email-hint = The e-mail you use to sign in to Raynet; the API key belongs to this user.
crm-api-key = API key
crm-api-key-hint = In Raynet: Settings → For developers → API keys → New API key (an admin creates it; it is shown once). It is stored encrypted and never shown again.
crm-api-key-stored = A key is stored ({ $masked }). Leave empty to keep it.
crm-test = Test connection
crm-test-success = The connection works.
crm-test-failed = The connection does not work.
crm-test-ok = The API key belongs to { $name } ({ $user }).
crm-test-role = Role in Raynet: { $role }.
crm-test-quota = { $remaining } of { $limit } API requests are left today.
crm-test-quota-nolimit = { $remaining } API requests are left today.
crm-test-no-quota = Raynet did not report how many requests are left today.

webhook-title = Webhook
webhook-url-heading = Webhook address
webhook-no-id = No webhook ID yet. Generate one first; it makes the address unguessable.
webhook-generate = Generate webhook ID
webhook-generate-warning = Generating a new ID removes the webhook registered in Raynet; create it again afterwards.
webhook-status-heading = Status
webhook-status = Registration
webhook-registered = Registered in Raynet.
webhook-registered-at = Registered in Raynet on { $at }.
webhook-not-registered = Not registered in Raynet.
webhook-last-event = Last event received
webhook-events-today = Events today
webhook-never = Never
webhook-create = Create webhook in Raynet
webhook-recreate = Recreate webhook in Raynet
webhook-delete = Delete webhook in Raynet
webhook-delete-confirm = Delete the webhook in Raynet? CRM Bridge will no longer hear about changes until you create it again.
webhook-manual-heading = Register it by hand instead
webhook-manual-intro = If you prefer to register the webhook yourself in Raynet:
webhook-manual-step1 = In Raynet open Settings → For developers → Webhook and add a webhook.
webhook-manual-step2 = Address:
webhook-manual-step3 = Description:
webhook-manual-step4 = Tick the events:
webhook-manual-step5 = Secret token: use the button below to get one, paste it into Raynet and save.
webhook-manual-token = Show a new secret token
webhook-manual-token-shown = Paste this token into Raynet now. It is shown only this once; it replaces the previous token.

import-title = Import
import-intro = The initial import copies companies, persons, projects and business cases from Raynet so that Outlook can find them. Later changes arrive through the webhook.
import-run = Run initial import
import-already-running = An import is already running.
import-status-queued = Waiting to start…
import-status-running = Importing…
import-status-done = Finished.
import-status-failed = Failed.
import-progress = { $done } of { $total }
import-progress-unknown = { $done } so far
import-rate = { $rate } per second
import-errors = { $errors } errors
import-eta = About { $eta } s left.
import-eta-estimating = Estimating the time left…
health-import-records = { $count } records
health-no-failed-jobs = No failed jobs.
import-history = History
import-started = Started
import-finished = Finished
import-status = Result
import-items = Items
import-error = Error
kind-company = Companies
kind-person = Persons
kind-project = Projects
kind-business-case = Business cases

o365-title = Office 365
o365-client-id = Application (client) ID
o365-tenant-id = Directory (tenant) ID
o365-client-secret = Client secret
o365-guid-hint = From the app registration's overview in the Microsoft Entra admin center.
o365-secret-hint = From the app registration's Certificates & secrets. Stored encrypted and never shown again.
o365-secret-stored = A secret is stored ({ $masked }). Leave empty to keep it.
o365-test = Test
o365-test-success = Microsoft accepted the app's credentials.
o365-test-failed = Microsoft did not accept the app's credentials.
o365-test-ok = A token was issued; it would be valid for { $minutes } minutes.
o365-test-no-secret = Type the client secret (or save one) to test.
o365-test-bad-secret = The client ID or the client secret is wrong, or the secret has expired. Microsoft said: { $detail }
o365-test-bad-tenant = The tenant ID is wrong. Microsoft said: { $detail }
o365-test-refused = Microsoft refused the request (HTTP { $status }): { $detail }
o365-test-unreachable = { $authority } could not be reached: { $detail }
o365-test-not-run = The test did not run.
o365-test-missing = Fill in first: { $fields }. Empty fields use the saved values.
o365-entra-heading = Values for the Microsoft Entra app registration
o365-entra-intro = Enter these exactly as shown in the app registration (the setup guide, section 2, says where). They follow from this server's public URL and the client ID above.
o365-entra-app-id-uri = Expose an API → Application ID URI
o365-entra-scope = Scope (Expose an API → Add a scope, name access_as_user)
o365-entra-redirect = Authentication → Single-page application → Redirect URI
o365-manifest-needs-https = No manifest yet: Outlook loads add-ins only over HTTPS, and this server's public URL is { $url }. Set server.public_url to the https:// address users reach the server at.
o365-deploy-heading = Deploy the Outlook add-in
o365-manifest-download = Download manifest.xml
o365-manifest-url = The manifest is also available at { $url }.
o365-deploy-step1 = Open the Microsoft 365 admin center → Settings → Integrated apps.
o365-deploy-step2 = Choose Upload custom apps, then Office Add-in, and upload manifest.xml.
o365-deploy-step3 = Assign the add-in to the users or groups who use CRM Bridge and accept the permissions.
o365-deploy-step4 = It can take up to 24 hours until the add-in shows in Outlook.

employees-title = Employees
employees-search = Find an employee
employees-add = Add employee
employees-none = No employees match.
employee-new-title = New employee
employee-edit-title = Employee
employee-identifier = Identifier
employee-identifier-hint = Employee number or e-mail, as your company knows the person.
employee-login-email = Sign-in e-mail
employee-login-email-hint = For this admin UI; leave empty if the person never signs in here.
employee-crm-user = CRM account (e-mail)
employee-crm-key = CRM API key
employee-crm-key-hint = The person's own Raynet API key, so activities show the right owner. Stored encrypted.
employee-no-key = No key
employee-o365-email = Office 365 e-mail
employee-o365-email-hint = Links the person's first sign-in from Outlook to this record.
employee-role = Role
employee-password = Admin UI password
employee-outlook = Signed in from Outlook
employee-outlook-yes = Yes
employee-outlook-no = Not yet
employee-status = Status
employee-active = Active
employee-inactive = Deactivated
employee-test-key = Test CRM key
employee-deactivate = Deactivate
employee-deactivate-confirm = Deactivate this employee? They can no longer use the add-in or sign in.
employee-activate = Activate
employee-conflict = Another employee already uses this sign-in e-mail or Office 365 e-mail.
role-admin = Administrator
role-employee = Employee

sync-title = Sync parameters
sync-mode-legend = Who is added as a participant of activities saved to Raynet
sync-mode-none = None
sync-mode-none-help = Activities are linked to the contacts, but nobody is added as a participant, so Raynet never e-mails your customers about them.
sync-mode-meetings = Meetings only (recommended)
sync-mode-meetings-help = Meeting attendees become participants; e-mails only link contacts, so customers do not get extra messages for e-mails.
sync-mode-all = All activity types
sync-mode-all-help = Everybody on an e-mail or meeting becomes a participant; customers may get Raynet notifications for every saved e-mail.
sync-mode-unknown = Choose one of the options.

health-title = Health
health-webhook = Webhook
health-events-pending = Events waiting
health-events-failed = Events failed
health-jobs = Job queue
health-queue-depth = Jobs waiting
health-failed-jobs = Failed jobs
health-last-import = Last import
health-crm-quota = CRM quota
health-quota-unknown = Not known yet: Raynet reports it with its answers, and there has been none since the server started.
jobs-kind = Kind
jobs-attempts = Attempts
jobs-reason = Reason
jobs-created = Created
jobs-actions = Actions
jobs-retry = Retry
jobs-retried = Queued again

audit-title = Audit log
audit-empty = No changes recorded yet.
audit-at = When
audit-actor = Who
audit-action = What
audit-target = Of what
audit-detail = Details
audit-action-company-update = Company data changed
audit-action-crm-update = CRM connection changed
audit-action-sync-update = Sync parameters changed
audit-action-office365-update = Office 365 settings changed
audit-action-employee-create = Employee added
audit-action-employee-update = Employee changed
audit-action-password-change = Password changed
audit-action-import-start = Import started
audit-action-job-retry = Failed job retried
audit-action-webhook-generate = New webhook ID generated
audit-action-webhook-create = Webhook registered in Raynet
audit-action-webhook-delete = Webhook removed from Raynet
audit-action-webhook-manual-token = Webhook token entered by hand
audit-target-removed-employee = A removed employee
audit-target-import = Import of CRM records
audit-actor-setup-link = The setup link
audit-detail-first-admin = The first admin

## Command line (crm-bridge)
cli-error = error: { $message }
cli-migrated = Migrations applied to { $url }.
cli-setup-link = No admin exists yet. Create the first admin within 24 hours at:
cli-admin-created = Admin { $email } created.
cli-password = password: { $password }
cli-password-once = (shown once; change it after signing in)
cli-rotated = Re-encrypted { $keys ->
    [one] { $keys } CRM API key
   *[other] { $keys } CRM API keys
} and { $fields ->
    [one] { $fields } settings secret
   *[other] { $fields } settings secrets
}.
cli-new-key-file = The new master key is in { $path }.
cli-new-key-print = New master key (set it as CRM_BRIDGE_MASTER_KEY or secrets.master_key now):
cli-import-done = Import { $run } done: { $count ->
    [one] { $count } record
   *[other] { $count } records
}.
cli-import-failed = Import { $run } failed: { $error }
cli-import-busy = Import { $run } is being run by a server right now; watch it in the admin UI.
cli-no-api-key = No API key on standard input.
cli-sync-status = { $mailbox }: sync { $state }, { $items } in sync, last sync { $last }, last error { $error }
cli-sync-on = on
cli-sync-off = off
cli-sync-never = never
cli-sync-none = none
cli-sync-run = { $count } activities synced.

## CRM connection and webhook (automated setup)
crm-base-url-raynet = The API key is only sent to Raynet: enter an https:// address of Raynet such as https://app.raynet.cz/api/v2/.
crm-api-key-again = The API address changed: enter the API key again. A stored key is only sent to the address it was saved with.
crm-test-unknown-instance = Raynet has no instance of this name. Check the Instance field: it is the part after app.raynet.cz/ when you are signed in to Raynet.
crm-test-bad-key = Raynet did not accept the admin e-mail and API key. Check that the key belongs to this e-mail and was not deleted.
crm-test-blocked = Raynet blocks this server's address for 60 minutes after more than 20 failed logins. Fix the settings, then test again in an hour.
flash-reregistered = The webhook got a new secret token and is registered in Raynet again.
webhook-manual-token-confirm = The webhook registered in Raynet is registered again with the new token. Continue?
health-webhook-rejected = Deliveries refused (wrong token)
