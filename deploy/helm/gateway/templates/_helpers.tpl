{{/* The roles, in the order they are rendered. */}}
{{- define "gateway.roles" -}}
commands poller webhooks
{{- end }}

{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; (dict "ctx" $ "role" "commands") adds the role's component label. */}}
{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .role }}
app.kubernetes.io/component: {{ .role }}
{{- end }}
{{- end }}

{{- define "gateway.labels" -}}
helm.sh/chart: {{ include "gateway.chart" .ctx }}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: vendor-gateway
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gateway.secretName" -}}
{{- default (include "gateway.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "gateway.configMapName" -}}
{{- printf "%s-config" (include "gateway.fullname" .) }}
{{- end }}

{{- define "gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The named container port a role is probed on: the operations port ("ops") when it is enabled
(it serves /healthz and /readyz for every role); else the webhooks role on its API port
("http", /healthz only), the others not at all (empty: no HTTP probes).
*/}}
{{- define "gateway.probePort" -}}
{{- if .ctx.Values.config.ops.enabled }}ops{{ else if eq .role "webhooks" }}http{{ end }}
{{- end }}

{{/* True when something other than `replicas` sets the commands role's replica count. */}}
{{- define "gateway.autoscaled" -}}
{{- $r := index .ctx.Values .role }}
{{- if eq .role "commands" }}
{{- if or $r.autoscaling.enabled $r.keda.enabled }}true{{ end }}
{{- end }}
{{- end }}

{{/*
The ConfigMap's data: one GATEWAY_ variable per leaf of the `config` tree. A non-empty map
nests (its keys joined with "__"), unless its keys are vendor paths (rate_limit.endpoints):
those are data, not setting names, and a ConfigMap key cannot hold a "/"; such a map is one
JSON value. null is left out (the gateway's default applies); strings are taken as they are;
numbers, booleans, lists and empty maps as JSON, which is what pydantic-settings parses
(numbers through toJson never turn into 1e+06 notation).
*/}}
{{- define "gateway.configEnv" -}}
{{- $prefix := .prefix }}
{{- range $key, $value := .tree }}
{{- $name := printf "%s%s" $prefix (upper $key) }}
{{- if and (kindIs "map" $value) (gt (len $value) 0) (not (hasPrefix "/" (keys $value | sortAlpha | first))) }}
{{- include "gateway.configEnv" (dict "tree" $value "prefix" (printf "%s__" $name)) }}
{{- else if kindIs "invalid" $value }}
{{- else if kindIs "string" $value }}
{{ $name }}: {{ $value | quote }}
{{- else }}
{{ $name }}: {{ $value | toJson | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The secret settings as env entries: secretKeyRef only, never a value. */}}
{{- define "gateway.secretEnv" -}}
{{- $secret := include "gateway.secretName" . }}
{{- range $env, $required := .Values.secret.keys }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $env }}
      optional: {{ not $required }}
{{- end }}
{{- range $account, $_ := .Values.config.accounts }}
{{- range $env, $required := $.Values.secret.keys }}
{{- if hasPrefix "GATEWAY_VENDOR__" $env }}
{{- $name := printf "GATEWAY_ACCOUNTS__%s__%s" (upper $account) (trimPrefix "GATEWAY_VENDOR__" $env) }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $name }}
      optional: {{ not $required }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Refuse values that would deploy something the gateway does not support. */}}
{{- define "gateway.validate" -}}
{{- $c := .Values.config }}
{{- if and .Values.secret.create .Values.secret.existingSecret }}
{{- fail "secret.create and secret.existingSecret exclude each other: pick one" }}
{{- end }}
{{- if and (not .Values.secret.create) .Values.secret.values }}
{{- fail "secret.values is only used with secret.create: true" }}
{{- end }}
{{- /* The Redis URL is a secret (it may hold the password): a required Secret key says Redis is used. */}}
{{- $redis := index .Values.secret.keys "GATEWAY_REDIS__URL" }}
{{- if and (eq $c.idempotency.backend "redis") (not $redis) }}
{{- fail "config.idempotency.backend=redis needs Redis: put GATEWAY_REDIS__URL in the Secret and set secret.keys.GATEWAY_REDIS__URL: true" }}
{{- end }}
{{- $cmd := .Values.commands }}
{{- if and $cmd.enabled (ne $c.idempotency.backend "redis") (or (gt (int $cmd.replicas) 1) $cmd.autoscaling.enabled $cmd.keda.enabled) }}
{{- fail "more than one commands replica (replicas > 1, autoscaling or keda) needs config.idempotency.backend=redis and Redis (secret.keys.GATEWAY_REDIS__URL: true): the sqlite store and the in-process rate limit are per replica" }}
{{- end }}
{{- if and $cmd.autoscaling.enabled $cmd.keda.enabled }}
{{- fail "commands.autoscaling and commands.keda exclude each other: KEDA makes its own HPA" }}
{{- end }}
{{- if and .Values.webhooks.enabled (gt (int .Values.webhooks.replicas) 1) (not $redis) }}
{{- fail "more than one webhooks replica needs Redis (secret.keys.GATEWAY_REDIS__URL: true): the webhook-id replay guard is per replica without Redis" }}
{{- end }}
{{- if and $c.ops.enabled .Values.webhooks.enabled (eq (int $c.ops.port) (int $c.webhooks.port)) }}
{{- fail "config.ops.port and config.webhooks.port must differ: both servers run in the webhooks pods" }}
{{- end }}
{{- if and (or .Values.metrics.serviceMonitor.enabled .Values.metrics.prometheusRule.enabled) (not $c.ops.enabled) }}
{{- fail "metrics.serviceMonitor and metrics.prometheusRule need config.ops.enabled: metrics are served on the operations port" }}
{{- end }}
{{- if and $c.ops.enabled (ne $c.ops.host "0.0.0.0") (ne $c.ops.host "::") }}
{{- fail "config.ops.host must be 0.0.0.0 (or ::) in a pod, or probes and Prometheus cannot reach it" }}
{{- end }}
{{- if and .Values.webhooks.enabled (ne $c.webhooks.host "0.0.0.0") (ne $c.webhooks.host "::") }}
{{- fail "config.webhooks.host must be 0.0.0.0 (or ::) in a pod, or the Service and the probes cannot reach it" }}
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds of a role: its own shutdown grace plus a margin. */}}
{{- define "gateway.terminationGrace" -}}
{{- $c := .ctx.Values.config }}
{{- $grace := $c.commands.grace_period_s }}
{{- if eq .role "webhooks" }}{{ $grace = $c.webhooks.shutdown_grace_s }}{{ end }}
{{- add (ceil $grace | int) (int .ctx.Values.terminationGraceMarginSeconds) }}
{{- end }}

{{/* The commands role keeps its SQLite file on a PersistentVolumeClaim. */}}
{{- define "gateway.commandsPvc" -}}
{{- if and .Values.commands.enabled .Values.commands.persistence.enabled (eq .Values.config.idempotency.backend "sqlite") }}true{{ end }}
{{- end }}

{{/*
One NetworkPolicyEgressRule from an egress destination of the values: {cidr, except} or
{namespaceSelector, podSelector}, and ports (a number is a TCP port; a map is taken as is).
Without cidr or selector the rule allows its ports to any address.
*/}}
{{- define "gateway.egressRule" -}}
{{- if not .ports }}
{{- fail (printf "networkPolicy.egress: every destination needs ports: %s" (toJson .)) }}
{{- end }}
{{- if and .cidr (or .namespaceSelector .podSelector) }}
{{- fail (printf "networkPolicy.egress: a destination is a cidr or selectors, not both: %s" (toJson .)) }}
{{- end }}
{{- $peer := dict }}
{{- if .cidr }}
{{- $block := dict "cidr" .cidr }}
{{- with .except }}{{ $_ := set $block "except" . }}{{ end }}
{{- $_ := set $peer "ipBlock" $block }}
{{- end }}
{{- with .namespaceSelector }}{{ $_ := set $peer "namespaceSelector" . }}{{ end }}
{{- with .podSelector }}{{ $_ := set $peer "podSelector" . }}{{ end }}
{{- $ports := list }}
{{- range .ports }}
{{- if kindIs "map" . }}
{{- $ports = append $ports . }}
{{- else }}
{{- $ports = append $ports (dict "port" (int .) "protocol" "TCP") }}
{{- end }}
{{- end }}
{{- $rule := dict "ports" $ports }}
{{- if $peer }}{{ $_ := set $rule "to" (list $peer) }}{{ end }}
{{- toYaml $rule }}
{{- end }}
