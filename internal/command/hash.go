package command

func registerHash(t *Table) {}
