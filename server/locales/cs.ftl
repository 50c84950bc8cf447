# CRM Bridge, administrace — čeština. Každý klíč musí být i v en.ftl (hlídá to unit test).

app-name = CRM Bridge
skip-to-content = Přejít na obsah
nav-label = Části administrace
nav-company = Firma
nav-crm = Připojení k CRM
nav-webhook = Webhook
nav-import = Import
nav-office365 = Office 365
nav-employees = Zaměstnanci
nav-sync = Synchronizace
nav-health = Stav
nav-audit = Auditní záznam
nav-account = Můj účet
nav-forbidden = Nepovoleno
forbidden-admin-only = Tato stránka je pro administrátory. Požádejte administrátora CRM Bridge o roli administrátora.
language-label = Jazyk
language-switch = Přepnout
language-unknown = Tento jazyk není k dispozici.
sign-in = Přihlásit se
sign-out = Odhlásit se
save-settings = Uložit
search-submit = Hledat
copy-text = Kopírovat
loading-data = Načítám…
nothing-yet = Zatím nic
not-available = Zatím není k dispozici
form-has-errors = Některá pole je potřeba opravit; podívejte se na zprávy u nich.
count-events = { $count ->
    [one] { $count } událost
    [few] { $count } události
   *[other] { $count } událostí
}

flash-saved = Uloženo.
flash-created = Vytvořeno.
flash-deleted = Smazáno.
flash-generated = Bylo vygenerováno nové ID webhooku.
flash-registered = Webhook je zaregistrovaný v Raynetu.
flash-password = Heslo bylo změněno. Ostatní relace vašeho účtu byly odhlášeny.

error-required = Toto pole je povinné.
error-too-long = Text je příliš dlouhý.
error-email = Zadejte e-mailovou adresu, například jmeno@example.cz.
error-url = Zadejte adresu začínající https://.
error-guid = Zadejte GUID, například 00000000-0000-0000-0000-000000000000.
error-api-key = Toto není platný API klíč.
error-internal = Na serveru se něco pokazilo. Podrobnosti jsou v logu serveru.
error-upstream = Druhá služba odpověděla chybou: { $detail }
error-unavailable = Není k dispozici: { $detail }
error-rate = Příliš mnoho požadavků: { $detail }

login-title = Přihlášení
login-email = E-mail
login-password = Heslo
login-wrong = Chybný e-mail nebo heslo.
login-throttled = Příliš mnoho neúspěšných přihlášení. Chvíli počkejte (nejvýše 15 minut) a zkuste to znovu.

setup-title = Vytvoření prvního správce
setup-intro = CRM Bridge zatím nemá žádného správce. Zvolte e-mail a heslo, kterými se budete přihlašovat; další správce můžete přidat později v části Zaměstnanci.
setup-create = Vytvořit správce
setup-done = Správce { $email } byl vytvořen. Přihlaste se a pokračujte v nastavení.
setup-link-gone = Tento odkaz pro nastavení je neplatný, vypršel nebo už byl použit. Spusťte na serveru <code>crm-bridge admin create --email E</code>, nebo server restartujte, dokud žádný správce neexistuje – vypíše nový odkaz.
setup-form-expired = Formulář vypršel nebo pochází z jiné stránky. Zadejte e-mail a heslo znovu a odešlete jej ještě jednou.

account-title = Můj účet
account-password-heading = Změna hesla
account-current-password = Současné heslo
account-new-password = Nové heslo
account-new-password-hint = Alespoň { $min } znaků.
account-change-password = Změnit heslo
account-current-wrong = Současné heslo není správné.

company-title = Firma
company-name = Název firmy
company-ico = IČO
company-ico-hint = Identifikační číslo osoby: 8 číslic.
company-ico-format = IČO má přesně 8 číslic.
company-ico-checksum = Toto IČO má chybnou kontrolní číslici; zkontrolujte překlep.
company-dic = DIČ
company-dic-hint = Daňové identifikační číslo: CZ a 8 až 10 číslic, například CZ12345678.
company-dic-format = DIČ je CZ následované 8 až 10 číslicemi.

crm-title = Připojení k CRM
crm-base-url = Adresa API
crm-base-url-hint = Vyberte server Raynetu, na kterém je váš účet; většina účtů používá https://app.raynet.cz/api/v2/.
crm-instance = Instance
crm-instance-hint = První část adresy za app.raynet.cz, když jste přihlášeni do Raynetu: v https://app.raynet.cz/acme/ je to acme.
crm-instance-format = Použijte jen písmena, číslice, tečky, pomlčky a podtržítka.
crm-user-email = E-mail administrátora
crm-user-email-hint = E-mail, kterým se přihlašujete do Raynetu; API klíč patří tomuto uživateli.
crm-api-key = API klíč
crm-api-key-hint = V Raynetu: Nastavení → Pro vývojáře → API klíče → Nový API klíč (vytváří jej správce; zobrazí se jen jednou). Ukládá se šifrovaně a už se nikdy nezobrazí.
crm-api-key-stored = Klíč je uložen ({ $masked }). Nechte prázdné, chcete-li ho ponechat.
crm-test = Otestovat připojení
crm-test-success = Připojení funguje.
crm-test-failed = Připojení nefunguje.
crm-test-ok = API klíč patří uživateli { $name } ({ $user }).
crm-test-role = Role v Raynetu: { $role }.
crm-test-quota = Dnes zbývá { $remaining } z { $limit } požadavků na API.
crm-test-quota-nolimit = Dnes zbývá { $remaining } požadavků na API.
crm-test-no-quota = Raynet neuvedl, kolik požadavků dnes zbývá.

webhook-title = Webhook
webhook-url-heading = Adresa webhooku
webhook-no-id = Webhook zatím nemá ID. Nejdřív ho vygenerujte; díky němu nelze adresu uhodnout.
webhook-generate = Vygenerovat ID webhooku
webhook-generate-warning = Vygenerováním nového ID se odstraní webhook zaregistrovaný v Raynetu; poté ho vytvořte znovu.
webhook-status-heading = Stav
webhook-status = Registrace
webhook-registered = Zaregistrován v Raynetu.
webhook-registered-at = Zaregistrován v Raynetu { $at }.
webhook-not-registered = Není zaregistrován v Raynetu.
webhook-last-event = Poslední přijatá událost
webhook-events-today = Události dnes
webhook-never = Nikdy
webhook-create = Vytvořit webhook v Raynetu
webhook-recreate = Znovu vytvořit webhook v Raynetu
webhook-delete = Smazat webhook v Raynetu
webhook-delete-confirm = Smazat webhook v Raynetu? CRM Bridge se pak nedozví o změnách, dokud ho znovu nevytvoříte.
webhook-manual-heading = Zaregistrovat ručně
webhook-manual-intro = Pokud chcete webhook v Raynetu zaregistrovat sami:
webhook-manual-step1 = V Raynetu otevřete Nastavení → Pro vývojáře → Webhook a přidejte webhook.
webhook-manual-step2 = Adresa:
webhook-manual-step3 = Popis:
webhook-manual-step4 = Zaškrtněte události:
webhook-manual-step5 = Tajný token: získáte ho tlačítkem níže, vložte ho do Raynetu a uložte.
webhook-manual-token = Zobrazit nový tajný token
webhook-manual-token-shown = Vložte tento token hned do Raynetu. Zobrazí se jen tentokrát a nahrazuje předchozí token.

import-title = Import
import-intro = Počáteční import zkopíruje z Raynetu firmy, osoby, projekty a obchodní případy, aby je Outlook mohl najít. Pozdější změny přicházejí webhookem.
import-run = Spustit počáteční import
import-already-running = Import už běží.
import-status-queued = Čeká na spuštění…
import-status-running = Importuji…
import-status-done = Hotovo.
import-status-failed = Selhalo.
import-progress = { $done } z { $total }
import-progress-unknown = zatím { $done }
import-rate = { $rate } za sekundu
import-errors = chyby: { $errors }
import-eta = Zbývá asi { $eta } s.
import-eta-estimating = Odhaduje se zbývající čas…
health-import-records = záznamů: { $count }
health-no-failed-jobs = Žádné neúspěšné úlohy.
import-history = Historie
import-started = Začátek
import-finished = Konec
import-status = Výsledek
import-items = Položky
import-error = Chyba
kind-company = Firmy
kind-person = Osoby
kind-project = Projekty
kind-business-case = Obchodní případy

o365-title = Office 365
o365-client-id = ID aplikace (klienta)
o365-tenant-id = ID adresáře (tenanta)
o365-client-secret = Tajný klíč klienta
o365-guid-hint = Najdete v přehledu registrace aplikace v centru pro správu Microsoft Entra.
o365-secret-hint = Najdete v části Certifikáty a tajné klíče registrace aplikace. Ukládá se šifrovaně a už se nikdy nezobrazí.
o365-secret-stored = Tajný klíč je uložen ({ $masked }). Nechte prázdné, chcete-li ho ponechat.
o365-test = Otestovat
o365-test-success = Microsoft přijal přihlašovací údaje aplikace.
o365-test-failed = Microsoft nepřijal přihlašovací údaje aplikace.
o365-test-no-secret = Pro test zadejte tajný klíč klienta (nebo nějaký uložte).
o365-test-bad-secret = ID klienta nebo tajný klíč není správný, nebo klíči vypršela platnost. Microsoft odpověděl: { $detail }
o365-test-bad-tenant = ID tenanta není správné. Microsoft odpověděl: { $detail }
o365-test-refused = Microsoft požadavek odmítl: { $detail }
o365-test-not-run = Test neproběhl.
o365-test-missing = Nejdříve vyplňte: { $fields }. Prázdná pole použijí uložené hodnoty.
o365-entra-heading = Hodnoty pro registraci aplikace v Microsoft Entra
o365-entra-intro = Zadejte je v registraci aplikace přesně takto (kde, popisuje průvodce nastavením, oddíl 2). Vycházejí z veřejné adresy tohoto serveru a z ID klienta výše.
o365-entra-app-id-uri = Zveřejnit rozhraní API → URI ID aplikace
o365-entra-scope = Obor (Zveřejnit rozhraní API → Přidat obor, název access_as_user)
o365-entra-redirect = Ověřování → Jednostránková aplikace → URI pro přesměrování
o365-manifest-needs-https = Manifest zatím není k dispozici: Outlook načítá doplňky jen přes HTTPS a veřejná adresa tohoto serveru je { $url }. Nastavte server.public_url na adresu https://, na které uživatelé server najdou.
o365-deploy-heading = Nasazení doplňku pro Outlook
o365-manifest-download = Stáhnout manifest.xml
o365-manifest-url = Manifest je dostupný také na adrese { $url }.
o365-deploy-step1 = Otevřete Centrum pro správu Microsoft 365 → Nastavení → Integrované aplikace.
o365-deploy-step2 = Zvolte Nahrát vlastní aplikace, pak Doplněk pro Office, a nahrajte manifest.xml.
o365-deploy-step3 = Přiřaďte doplněk uživatelům nebo skupinám, které používají CRM Bridge, a potvrďte oprávnění.
o365-deploy-step4 = Než se doplněk objeví v Outlooku, může to trvat až 24 hodin.

employees-title = Zaměstnanci
employees-search = Najít zaměstnance
employees-add = Přidat zaměstnance
employees-none = Žádný zaměstnanec neodpovídá.
employee-new-title = Nový zaměstnanec
employee-edit-title = Zaměstnanec
employee-identifier = Identifikátor
employee-identifier-hint = Osobní číslo nebo e-mail, jak osobu zná vaše firma.
employee-login-email = Přihlašovací e-mail
employee-login-email-hint = Pro tuto administraci; nechte prázdné, pokud se sem osoba nikdy nepřihlásí.
employee-crm-user = Účet v CRM (e-mail)
employee-crm-key = API klíč do CRM
employee-crm-key-hint = Vlastní API klíč osoby do Raynetu, aby aktivity měly správného vlastníka. Ukládá se šifrovaně.
employee-no-key = Bez klíče
employee-o365-email = E-mail v Office 365
employee-o365-email-hint = Propojí první přihlášení osoby z Outlooku s tímto záznamem.
employee-role = Role
employee-password = Heslo do administrace
employee-outlook = Přihlášen z Outlooku
employee-outlook-yes = Ano
employee-outlook-no = Zatím ne
employee-status = Stav
employee-active = Aktivní
employee-inactive = Deaktivován
employee-test-key = Otestovat klíč do CRM
employee-deactivate = Deaktivovat
employee-deactivate-confirm = Deaktivovat tohoto zaměstnance? Už nebude moci používat doplněk ani se přihlásit.
employee-activate = Aktivovat
employee-conflict = Tento přihlašovací e-mail nebo e-mail v Office 365 už používá jiný zaměstnanec.
role-admin = Administrátor
role-employee = Zaměstnanec

sync-title = Synchronizace
sync-mode-legend = Účastníci událostí v Outlooku (komu Outlook pošle e-mail)
sync-mode-none = Nikdo
sync-mode-none-help = Žádná synchronizovaná událost nemá účastníky, takže Outlook nikomu nepíše; každý zúčastněný zaměstnanec dostane do kalendáře vlastní kopii.
sync-mode-meetings = Jen schůzky (doporučeno)
sync-mode-meetings-help = Schůzky z Raynetu mají své účastníky jako pozvané, takže jim Outlook pošle pozvánky a změny (i zákazníkům); ostatní typy nikomu nepíší.
sync-mode-all = Všechny typy aktivit
sync-mode-all-help = Každá synchronizovaná aktivita má své účastníky jako pozvané, takže jim Outlook píše (i zákazníkům) i o každé události, úkolu, hovoru a dopisu.
sync-mode-unknown = Vyberte jednu z možností.

health-title = Stav
health-webhook = Webhook
health-events-pending = Čekající události
health-events-failed = Neúspěšné události
health-jobs = Fronta úloh
health-queue-depth = Čekající úlohy
health-failed-jobs = Neúspěšné úlohy
health-last-import = Poslední import
health-crm-quota = Kvóta CRM
health-quota-unknown = Zatím neznámá: Raynet ji uvádí ve svých odpovědích a od spuštění serveru žádná nepřišla.
jobs-kind = Druh
jobs-attempts = Pokusy
jobs-reason = Důvod
jobs-created = Vytvořeno
jobs-actions = Akce
jobs-retry = Zkusit znovu
jobs-retried = Znovu zařazeno

audit-title = Auditní záznam
audit-empty = Zatím nejsou zaznamenány žádné změny.
audit-at = Kdy
audit-actor = Kdo
audit-action = Co
audit-target = Čeho
audit-detail = Podrobnosti
audit-action-company-update = Změna údajů o firmě
audit-action-crm-update = Změna připojení k CRM
audit-action-sync-update = Změna parametrů synchronizace
audit-action-office365-update = Změna nastavení Office 365
audit-action-employee-create = Přidání zaměstnance
audit-action-employee-update = Změna zaměstnance
audit-action-password-change = Změna hesla
audit-action-import-start = Spuštění importu
audit-action-job-retry = Nové spuštění neúspěšné úlohy
audit-action-webhook-generate = Vygenerování nového ID webhooku
audit-action-webhook-create = Registrace webhooku v Raynetu
audit-action-webhook-delete = Odebrání webhooku z Raynetu
audit-action-webhook-manual-token = Ruční zadání tokenu webhooku
audit-target-removed-employee = Odebraný zaměstnanec
audit-target-import = Import záznamů z CRM
audit-actor-setup-link = Odkaz pro nastavení
audit-detail-first-admin = První správce

## Příkazová řádka (crm-bridge)
cli-error = chyba: { $message }
cli-migrated = Migrace databáze { $url } jsou provedeny.
cli-setup-link = Zatím neexistuje žádný administrátor. Prvního vytvořte do 24 hodin na adrese:
cli-admin-created = Administrátor { $email } je vytvořen.
cli-password = heslo: { $password }
cli-password-once = (zobrazí se jen jednou; po přihlášení ho změňte)
cli-rotated = Znovu { $keys ->
    [one] zašifrován { $keys } API klíč do CRM
    [few] zašifrovány { $keys } API klíče do CRM
   *[other] zašifrováno { $keys } API klíčů do CRM
} a { $fields ->
    [one] { $fields } tajný údaj nastavení
    [few] { $fields } tajné údaje nastavení
   *[other] { $fields } tajných údajů nastavení
}.
cli-new-key-file = Nový hlavní klíč je v souboru { $path }.
cli-new-key-print = Nový hlavní klíč (nastavte ho hned jako CRM_BRIDGE_MASTER_KEY nebo secrets.master_key):
cli-import-done = Import { $run } je hotov: { $count ->
    [one] { $count } záznam
    [few] { $count } záznamy
   *[other] { $count } záznamů
}.
cli-import-failed = Import { $run } selhal: { $error }
cli-no-api-key = Na standardním vstupu není žádný API klíč.
cli-sync-status = { $mailbox }: synchronizace { $state }, v kalendáři { $items }, poslední synchronizace { $last }, poslední chyba { $error }
cli-sync-on = zapnuta
cli-sync-off = vypnuta
cli-sync-never = nikdy
cli-sync-none = žádná
cli-sync-run = Synchronizováno aktivit: { $count }.
cli-sync-backfill = Doplnění zařazeno pro kalendáře: { $count }; server je doplní.

## CRM connection and webhook (automated setup)
crm-base-url-raynet = API klíč se posílá jen do Raynetu: zadejte adresu Raynetu začínající https://, například https://app.raynet.cz/api/v2/.
crm-api-key-again = Adresa API se změnila: zadejte API klíč znovu. Uložený klíč se posílá jen na adresu, pro kterou byl uložen.
crm-test-unknown-instance = Raynet nezná instanci tohoto názvu. Zkontrolujte pole Instance: je to část adresy za app.raynet.cz/, když jste přihlášeni do Raynetu.
crm-test-bad-key = Raynet nepřijal e-mail administrátora a API klíč. Zkontrolujte, že klíč patří tomuto e-mailu a nebyl smazán.
crm-test-blocked = Raynet po více než 20 neúspěšných přihlášeních blokuje adresu tohoto serveru na 60 minut. Opravte nastavení a zkuste test znovu za hodinu.
flash-reregistered = Webhook dostal nový tajný token a je znovu zaregistrovaný v Raynetu.
webhook-manual-token-confirm = Webhook zaregistrovaný v Raynetu se zaregistruje znovu s novým tokenem. Pokračovat?
health-webhook-rejected = Odmítnutá doručení (špatný token)

flash-sync-queued = { $count ->
    [0] Teď není co synchronizovat: zaměstnanec zatím nemá žádné události z Raynetu.
    [one] Jedna aktivita čeká na synchronizaci.
    [few] { $count } aktivity čekají na synchronizaci.
   *[other] { $count } aktivit čeká na synchronizaci.
}
sync-settings-heading = Synchronizace kalendářů
sync-enabled = Zobrazovat aktivity z Raynetu v kalendářích zaměstnanců v Outlooku
sync-enabled-hint = Server zapisuje události přes Microsoft Graph aplikací Office 365; Outlook nemusí být spuštěný. Každého zaměstnance je třeba zapnout také níže.
sync-types-legend = Typy aktivit zobrazované v kalendářích
sync-type-meeting = Schůzky
sync-type-event = Události
sync-type-task = Úkoly
sync-type-phone-call = Telefonáty
sync-type-letter = Dopisy
sync-types-none = Vyberte alespoň jeden typ, nebo synchronizaci kalendářů vypněte.
sync-category = Kategorie v Outlooku
sync-category-hint = Dostane ji každá synchronizovaná událost, aby bylo na první pohled vidět, že pochází z Raynetu.
sync-start-date = Synchronizovat aktivity od
sync-start-date-hint = Aktivity začínající před tímto datem (pražského času) do kalendářů nepřijdou. Prázdné: všechny.
sync-start-date-invalid = Zadejte datum, například 2026-01-31.
sync-employees-heading = Zaměstnanci
sync-employees-intro = Aktivity z Raynetu dostanou do kalendáře v Outlooku jen zapnutí zaměstnanci (schránka je jejich e-mail Office 365).
sync-col-employee = Zaměstnanec
sync-col-state = Synchronizace kalendáře
sync-col-last-sync = Poslední synchronizace
sync-col-items = Synchronizovaných položek
sync-col-last-error = Poslední chyba
sync-col-actions = Akce
sync-on = Zapnuto
sync-off = Vypnuto
sync-never = Nikdy
sync-opt-in = Zapnout
sync-opt-out = Vypnout
sync-run-now = Synchronizovat teď
sync-trace-link = Záznam
sync-trace-all = Všechna rozhodnutí synchronizace (záznam)
sync-no-such-employee = Takový zaměstnanec neexistuje.
sync-trace-title = Záznam synchronizace kalendářů
trace-back = Zpět na Synchronizaci
trace-everybody = Všichni
trace-activity-hint = Aktivita v Raynetu, například raynet:meeting:81. Prázdné: všechny.
trace-filter = Zobrazit
trace-empty = Žádná rozhodnutí synchronizace neodpovídají.
trace-pages = Stránky
trace-newer = Novější
trace-older = Starší
trace-range = Záznamy { $first }–{ $last }
trace-col-activity = Aktivita
trace-col-action = Co se stalo
trace-col-reason = Proč
trace-col-request-id = ID požadavku Graph
trace-col-error = Chyba
trace-action-create = Událost vytvořena
trace-action-update = Událost upravena
trace-action-delete = Událost odstraněna
trace-action-skip = Přeskočeno
trace-action-adopt = Nalezena událost z přerušeného pokusu
trace-action-failed = Selhalo
trace-reason-unchanged = nic, co událost ukazuje, se nezměnilo
trace-reason-sync-disabled = synchronizace kalendářů je vypnutá
trace-reason-deleted-in-crm = smazáno v Raynetu
trace-reason-saved-from-outlook = uloženo ze schůzky v Outlooku, která už v kalendáři je
trace-reason-type-not-synced = tento typ aktivit se nesynchronizuje
trace-reason-type-not-read = tento typ aktivit zatím nejde načíst
trace-reason-no-time = aktivita nemá čas
trace-reason-before-start-date = začíná před datem začátku synchronizace
trace-reason-joined-concurrent-create = jiný proces událost právě vytvořil
trace-reason-interrupted-create = přerušené vytváření už událost vytvořilo
audit-action-calendar-update = Změna nastavení synchronizace kalendářů
audit-action-calendar-employee = Zapnutí či vypnutí synchronizace kalendáře zaměstnance
o365-test-mailbox = Schránka pro test
o365-test-mailbox-hint = Test získá aplikací token Microsoft Graph a přečte kalendář této schránky. Vyberte zaměstnance nebo napište adresu; prázdné: jen token.
o365-test-calendar-ok = Token Microsoft Graph byl vydán a kalendář schránky { $mailbox } lze číst.
o365-test-token-ok = Token Microsoft Graph byl vydán. Zvolte schránku, aby se ověřilo i oprávnění ke kalendáři.
o365-test-no-consent-heading = Aplikace nemá souhlas správce pro kalendáře.
o365-test-no-consent = V Entra ID přidejte aplikaci aplikační oprávnění Calendars.ReadWrite a udělte souhlas správce (nebo schránka leží mimo zásady přístupu aplikace). Microsoft odpověděl: { $detail }
o365-test-mailbox-heading = Přihlašovací údaje aplikace fungují, ale schránka nebyla nalezena.
o365-test-mailbox-not-found = { $mailbox } nemá schránku Exchange Online. Zkontrolujte adresu (e-mail zaměstnance v Office 365).
o365-test-unavailable = Microsoft není dostupný nebo je přetížený; zkuste to později. { $detail }
