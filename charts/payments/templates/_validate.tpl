{{/*
Combinations the schema cannot express, checked when rendering: each failure names the values
to change.
*/}}
{{- define "payments.validate" -}}
{{- $errors := list -}}
{{- $v := .Values -}}
{{- $s := $v.secrets -}}
{{- if and $s.existingSecret (or $s.databaseUrl $s.adminApiToken $s.webhookEncryptionKey $s.awsAccessKeyId $s.awsSecretAccessKey) -}}
{{- $errors = append $errors "secrets: set either existingSecret or the values, not both" -}}
{{- end -}}
{{- if and $v.api.autoscaling.enabled (not (or $v.api.autoscaling.targetCPUUtilizationPercentage $v.api.autoscaling.targetMemoryUtilizationPercentage)) -}}
{{- $errors = append $errors "api.autoscaling: set targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" -}}
{{- end -}}
{{- $apiGrace := add $v.api.preStopSleepSeconds 10 5 -}}
{{- if lt (int $v.api.terminationGracePeriodSeconds) (int $apiGrace) -}}
{{- $errors = append $errors (printf "api.terminationGracePeriodSeconds must be at least %d (preStopSleepSeconds + the relay's 10 s drain + 5)" (int $apiGrace)) -}}
{{- end -}}
{{- $processorGrace := add (ceil $v.paymentProcessor.sqs.drainSeconds) 5 -}}
{{- if lt (int $v.paymentProcessor.terminationGracePeriodSeconds) (int $processorGrace) -}}
{{- $errors = append $errors (printf "paymentProcessor.terminationGracePeriodSeconds must be at least %d (sqs.drainSeconds + 5)" (int $processorGrace)) -}}
{{- end -}}
{{- $senderGrace := add (ceil $v.webhookSender.sqs.drainSeconds) (ceil $v.webhookSender.webhookTimeoutSeconds) 5 -}}
{{- if lt (int $v.webhookSender.terminationGracePeriodSeconds) (int $senderGrace) -}}
{{- $errors = append $errors (printf "webhookSender.terminationGracePeriodSeconds must be at least %d (sqs.drainSeconds + webhookTimeoutSeconds + 5)" (int $senderGrace)) -}}
{{- end -}}
{{- if and (or $v.worker.enabled $v.paymentProcessor.enabled) (not $v.config.temporal.address) -}}
{{- $errors = append $errors "config.temporal.address: the worker and the payment processor need Temporal's host:port" -}}
{{- end -}}
{{- if $v.keda.enabled -}}
{{- if and (eq $v.keda.auth.type "secret") (not $v.aws.staticCredentials) -}}
{{- $errors = append $errors "keda.auth.type=secret reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the Secret: turn on aws.staticCredentials" -}}
{{- end -}}
{{- if and $v.keda.auth.podIdentity.roleArn $v.keda.auth.podIdentity.identityOwner -}}
{{- $errors = append $errors "keda.auth.podIdentity: roleArn and identityOwner are mutually exclusive (clear identityOwner)" -}}
{{- end -}}
{{- range $component, $key := include "payments.consumers" $ | fromYaml -}}
{{- $c := get $v $key -}}
{{- if and $c.enabled $c.keda.enabled (not $c.keda.queueURL) (not (contains "://" $c.queue)) (not $v.config.aws.accountId) -}}
{{- $errors = append $errors (printf "%s: KEDA needs the queue's URL: set config.aws.accountId, %s.keda.queueURL, or %s.queue as a URL" $key $key $key) -}}
{{- end -}}
{{- if and $c.enabled $c.keda.enabled (gt (int $c.keda.minReplicaCount) (int $c.keda.maxReplicaCount)) -}}
{{- $errors = append $errors (printf "%s.keda: minReplicaCount is above maxReplicaCount" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.api.autoscaling.enabled (gt (int $v.api.autoscaling.minReplicas) (int $v.api.autoscaling.maxReplicas)) -}}
{{- $errors = append $errors "api.autoscaling: minReplicas is above maxReplicas" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nINVALID VALUES:\n- %s" (join "\n- " $errors)) -}}
{{- end -}}
{{- end -}}
